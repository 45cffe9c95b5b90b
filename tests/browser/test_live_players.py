"""hls.js and dash.js in headless Chromium play a LIVE session while a producer streams into the server.

The producer sends 1-second fragments in real time (absolute timecodes
from now); the page plays the session URL the server handed out, and the
video element's currentTime has to move on by 8 s while the producer is
still live, which takes the player through refreshed playlists / manifests
and new segments.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

PRODUCER_SECONDS = 36  # media the producer sends, in real time
FIRST_FRAGMENTS = 3  # fragments stored before the session URL is asked for
ADVANCE_S = 10  # how far playback must move while the producer streams
SCREENSHOTS = {"hls": Path("/tmp/kvsmock-browser-hls.png")}

#: A player error the page recorded that stops playback.
FATAL = {
    "hls": "window.state.errors.some(e => e.fatal)",
    "dash": "window.state.errors.length > 0",
}


def _session_url(server, stream_name: str, player: str) -> str:
    if player == "hls":
        archived = server.archived_media(stream_name, "GET_HLS_STREAMING_SESSION_URL")
        return archived.get_hls_streaming_session_url(StreamName=stream_name, PlaybackMode="LIVE")[
            "HLSStreamingSessionURL"
        ]
    archived = server.archived_media(stream_name, "GET_DASH_STREAMING_SESSION_URL")
    return archived.get_dash_streaming_session_url(StreamName=stream_name, PlaybackMode="LIVE")[
        "DASHStreamingSessionURL"
    ]


def _wait_for_fragments(server, stream_name: str, count: int, producer, timeout_s: float = 20.0) -> None:
    archived = server.archived_media(stream_name)
    deadline = time.monotonic() + timeout_s
    listed = 0
    while time.monotonic() < deadline and producer.error is None:
        listed = len(archived.list_fragments(StreamName=stream_name)["Fragments"])
        if listed >= count:
            return
        time.sleep(0.2)
    pytest.fail(f"{listed} of {count} fragments stored within {timeout_s} s; {producer}")


@pytest.mark.parametrize("player", ["hls", "dash"])
def test_player_follows_live_stream(player, kvs_server, page_server, launch_browser, page_log, live_producer):
    stream_name = f"browser-live-{player}"
    kvs_server.kinesisvideo.create_stream(StreamName=stream_name, DataRetentionInHours=1)
    producer = live_producer(kvs_server, stream_name, duration_s=PRODUCER_SECONDS)
    _wait_for_fragments(kvs_server, stream_name, FIRST_FRAGMENTS, producer)
    url = _session_url(kvs_server, stream_name, player)

    page = launch_browser().new_page(viewport={"width": 400, "height": 320})
    log = page_log(page, player)

    def report() -> str:
        try:
            state = page.evaluate(
                "({state: window.state, currentTime: document.getElementById('video').currentTime,"
                " readyState: document.getElementById('video').readyState})"
            )
        except Exception as exc:  # noqa: BLE001 - only for the failure message
            state = repr(exc)
        return f"{json.dumps(state, indent=1)[:6000]}\n{producer}\n{log}"

    def wait(expression: str, timeout_s: float, arg=None) -> None:
        try:
            page.wait_for_function(
                f"t0 => ({expression}) || {FATAL[player]}", arg=arg, timeout=timeout_s * 1000, polling=100
            )
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{expression!r} not true within {timeout_s} s: {exc}\n{report()}")
        if page.evaluate(FATAL[player]):
            pytest.fail(f"{player} reported an error:\n{report()}")

    page.goto(f"{page_server}/pages/{player}.html")
    page.evaluate("url => play(url)", url)
    wait("document.getElementById('video').currentTime > 0", 20)
    t0 = page.evaluate("document.getElementById('video').currentTime")
    started = time.monotonic()
    wait(f"document.getElementById('video').currentTime >= t0 + {ADVANCE_S}", ADVANCE_S + 12, arg=t0)
    elapsed = time.monotonic() - started
    assert producer.streaming, f"the producer ended before playback moved on {ADVANCE_S} s\n{report()}"
    assert producer.error is None, report()
    # Live playback moves at about the wall clock's pace (a player may speed up a little to catch up).
    assert elapsed >= ADVANCE_S / 1.5, f"{ADVANCE_S} s of media played in {elapsed:.1f} s\n{report()}"
    if player in SCREENSHOTS:
        page.screenshot(path=str(SCREENSHOTS[player]))
