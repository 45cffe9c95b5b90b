"""The web console (``GET /_kvsmock/console/``) in headless Chromium, against a kvsmock server.

A producer streams 1-second fragments into the server in real time (the
``live_producer`` fixture); the console lists the stream, plays it live
through its own Media Source Extensions player (kvsmock's HLS fMP4
segments), seeks into the past, shows the fragment list growing with
thumbnails that load, downloads a GetClip MP4 that PyAV reads, moves the
emulator clock, and joins a signaling channel as master and as viewer.

Every wait is on a condition in the page (``wait_for_function`` /
``expect``); screenshots go to ``/tmp/kvsmock-console-*.png``.
"""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path

import av
import pytest
from botocore.config import Config

from conftest_plugin import paced
from kvsmock import put_media, sample_mkv


def expect(locator):
    """Playwright's ``expect``, imported when a test runs: the default run collects this module without playwright installed."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


pytestmark = pytest.mark.browser

CONSOLE = "/_kvsmock/console/"
FRAGMENT_S = 1.0  # the live producer's fragment duration
VIEWPORT = {"width": 1440, "height": 900}


def shot(name: str) -> str:
    return f"/tmp/kvsmock-console-{name}.png"


def local_input(seconds: float) -> str:
    """A datetime-local input's value for epoch seconds (the browser context runs in UTC)."""
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def stored_fragments(server, stream: str) -> list[dict]:
    """ListFragments (first 1000), timestamps as epoch seconds, in producer-time order."""
    client = server.archived_media(stream)  # the console may have used the stream's metadata points: wait them out
    listed = paced(client.list_fragments, StreamName=stream, MaxResults=1000)["Fragments"]
    for f in listed:
        f["ProducerTimestamp"] = f["ProducerTimestamp"].timestamp()
        f["ServerTimestamp"] = f["ServerTimestamp"].timestamp()
    return sorted(listed, key=lambda f: f["ProducerTimestamp"])


def wait_stored(server, stream: str, count: int, timeout_s: float = 30.0, producer=None) -> list[dict]:
    deadline = time.monotonic() + timeout_s
    fragments: list[dict] = []
    while time.monotonic() < deadline:
        fragments = stored_fragments(server, stream)
        if len(fragments) >= count:
            return fragments
        time.sleep(0.2)
    pytest.fail(f"{len(fragments)} of {count} fragments stored in {timeout_s} s; {producer}")


class Console:
    """A console page and what to say about it when a wait fails."""

    def __init__(self, browser, server, page_log, name: str):
        self.context = browser.new_context(viewport=VIEWPORT, timezone_id="UTC", accept_downloads=True)
        self.page = self.context.new_page()
        self.log = page_log(self.page, name)
        self.server = server
        self.extra = ""

    def open(self, fragment: str = "") -> None:
        self.page.goto(self.server.endpoint_url + CONSOLE + fragment)

    def state(self) -> str:
        try:
            state = self.page.evaluate(
                "({player: window.kvsConsole.player && window.kvsConsole.player.stats,"
                " fragments: window.kvsConsole.fragments && window.kvsConsole.fragments.count,"
                " peer: window.kvsConsole.peer && window.kvsConsole.peer.summary(),"
                " video: document.querySelector('video') && {t: document.querySelector('video').currentTime,"
                " readyState: document.querySelector('video').readyState}})"
            )
        except Exception as exc:  # noqa: BLE001 - only for the failure message
            state = repr(exc)
        return f"{json.dumps(state, indent=1)[:5000]}\n{self.extra}\n{self.log}"

    def wait(self, expression: str, timeout_s: float, arg=None) -> None:
        """Wait until the JS ``expression`` (``a`` is ``arg``) is true in the page."""
        try:
            self.page.wait_for_function(f"a => ({expression})", arg=arg, timeout=timeout_s * 1000, polling=100)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{expression!r} not true within {timeout_s} s: {exc}\n{self.state()}")

    def stats(self) -> dict:
        return self.page.evaluate("window.kvsConsole.player.stats")

    def fragment_items(self):
        return self.page.get_by_role("list", name="Fragments").get_by_role("listitem")


@pytest.fixture
def console(kvs_server, launch_browser, page_log):
    """``console(name)``: a new console page in a UTC browser context on the test's server."""
    browser = launch_browser()
    return lambda name: Console(browser, kvs_server, page_log, name)


# ---------------------------------------------------------------------- streams
def test_streams_table_lists_creates_and_deletes(kvs_server, console):
    kv = kvs_server.kinesisvideo
    kv.create_stream(StreamName="console-cam", DataRetentionInHours=48, MediaType="video/h264", Tags={"site": "lab"})
    put_media("console-cam", media=sample_mkv(duration_s=3, fragment_s=1), endpoint_url=kvs_server.endpoint_url,
              session=kvs_server.session())
    kv.create_stream(StreamName="console-quiet", DataRetentionInHours=0)
    c = console("streams")
    c.page.goto(kvs_server.endpoint_url + "/")  # a browser at the server's root lands on the console
    assert c.page.url.endswith(CONSOLE)
    table = c.page.get_by_role("table", name="Streams")
    row = table.get_by_role("row").filter(has=c.page.get_by_role("link", name="console-cam", exact=True))
    expect(row).to_contain_text("ACTIVE")
    expect(row).to_contain_text("video/h264")
    expect(row).to_contain_text("48 h (2 d)")
    expect(row).to_contain_text("site=lab")
    expect(row).to_contain_text("alias/aws/kinesisvideo")
    expect(row).to_contain_text("HOT tier")
    expect(row.get_by_role("cell").nth(4)).to_contain_text("KB")  # stored size
    expect(row.get_by_role("cell").nth(5)).to_have_text("3")  # fragment count
    expect(table.get_by_role("link", name="console-quiet", exact=True)).to_be_visible()

    # Create a stream from the page; it appears in the table and in the service.
    c.page.get_by_text("Create a stream").click()
    c.page.get_by_label("Stream name").fill("made-in-console")
    c.page.get_by_label("Retention (hours)").fill("6")
    c.page.get_by_label("Tags (optional)").fill("owner=console")
    c.page.get_by_role("button", name="Create stream").click()
    made = table.get_by_role("row").filter(has=c.page.get_by_role("link", name="made-in-console"))
    expect(made).to_contain_text("6 h")
    expect(made).to_contain_text("owner=console")
    assert kv.describe_stream(StreamName="made-in-console")["StreamInfo"]["DataRetentionInHours"] == 6
    c.page.screenshot(path=shot("streams"))

    # A stream created elsewhere shows up without reloading the page.
    kv.create_stream(StreamName="console-later", DataRetentionInHours=1)
    expect(table.get_by_role("link", name="console-later")).to_be_visible(timeout=10_000)

    # Delete: two steps (the first button asks, the second deletes).
    c.page.get_by_role("button", name="Delete made-in-console").click()
    c.page.get_by_role("button", name="Delete made-in-console for good").click()
    expect(table.get_by_role("link", name="made-in-console")).to_have_count(0)
    names = [s["StreamName"] for s in kv.list_streams()["StreamInfoList"]]
    assert "made-in-console" not in names and "console-cam" in names

    # Another region has its own streams.
    c.page.get_by_label("Region", exact=True).fill("eu-west-1")
    c.page.get_by_label("Region", exact=True).press("Enter")
    expect(c.page.get_by_role("table", name="Streams")).to_contain_text("No streams")
    kvs_server.client("kinesisvideo", region_name="eu-west-1").create_stream(StreamName="dublin-cam")
    expect(c.page.get_by_role("link", name="dublin-cam")).to_be_visible(timeout=10_000)
    expect(c.page.get_by_role("link", name="console-cam")).to_have_count(0)


# ---------------------------------------------------------------------- live
def test_live_playback_keeps_up_with_the_producer(kvs_server, console, live_producer, record_property):
    name = "console-live"
    kvs_server.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    producer = live_producer(kvs_server, name, duration_s=45)
    wait_stored(kvs_server, name, 2, producer=producer)
    c = console("live")
    c.extra = str(producer)
    c.open(f"#/streams/{name}")
    c.wait("window.kvsConsole.fragments && window.kvsConsole.fragments.count >= 2", 15)
    listed_at_start = c.fragment_items().count()

    clicked = time.monotonic()
    c.page.get_by_role("button", name="Live", exact=True).click()
    c.wait("window.kvsConsole.player.stats.mode === 'live' && window.kvsConsole.player.stats.firstFrameMs !== null", 15)
    first_frame_s = time.monotonic() - clicked
    c.wait("document.querySelector('video').currentTime > 0", 10)
    t0 = c.page.evaluate("document.querySelector('video').currentTime")
    started = time.monotonic()
    # Ten seconds of live media played while the producer streams.
    c.wait("document.querySelector('video').currentTime >= a + 10", 25, arg=t0)
    elapsed = time.monotonic() - started
    stats = c.stats()
    assert producer.streaming and producer.error is None, c.state()
    assert elapsed >= 10 / 1.15, f"10 s of live media played in {elapsed:.1f} s\n{c.state()}"
    assert stats["error"] is None, c.state()

    # The lag: the producer timestamp of the frame on screen against the wall clock, over the last 10 s.
    assert stats["lagMax"] <= FRAGMENT_S + 1.0, f"live lag {stats['lagMax']:.2f} s\n{c.state()}"
    assert stats["lagAverage"] > 0.2, c.state()  # a frame cannot be shown before it is made
    record_property("live_lag_mean_s", round(stats["lagAverage"], 3))
    record_property("live_lag_max_s", round(stats["lagMax"], 3))
    record_property("first_frame_ms_in_page", stats["firstFrameMs"])
    print(f"\nconsole live: lag mean {stats['lagAverage']:.2f} s, max {stats['lagMax']:.2f} s over 10 s; "
          f"first frame {stats['firstFrameMs']} ms after Live (page), {first_frame_s:.2f} s (test); "
          f"fragment end to buffer (ms): {stats['deliveryDelays']}")

    # The fragment shown is a stored one, with its producer timestamp on the page.
    stored = {f["FragmentNumber"]: f for f in stored_fragments(kvs_server, name)}
    number = stats["fragmentNumber"]
    assert number in stored, c.state()
    assert abs(stats["fragmentStart"] - stored[number]["ProducerTimestamp"]) < 0.002
    assert c.page.locator("#now-fragment").inner_text() in stored, c.state()
    expect(c.page.get_by_role("list", name="Fragments").locator('li[aria-current="true"]')).to_have_count(1)

    # The list grew while the producer streamed (no reload), and its thumbnails really loaded.
    assert c.fragment_items().count() >= listed_at_start + 8, c.state()
    c.wait("[...document.querySelectorAll('ul.fragments img')].filter(i => i.complete && i.naturalWidth > 0).length >= 5", 15)
    widths = c.page.evaluate("[...document.querySelectorAll('ul.fragments img')].filter(i => i.complete && i.naturalWidth > 0)"
                             ".map(i => i.naturalWidth)")
    assert len(widths) >= 5 and set(widths) == {96}, widths  # GetImages' JPEGs, WidthPixels 96
    c.page.screenshot(path=shot("live"))


# ---------------------------------------------------------------------- the past, gaps, clips
def test_back_start_time_gaps_and_clip(kvs_server, console, live_producer, tmp_path):
    name = "console-replay"
    kvs_server.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    # An older stretch of 4 s, 40 s before the live producer starts: a gap of 36 s between the two.
    old_start = time.time() - 40
    put_media(name, media=sample_mkv(duration_s=4, fragment_s=1, start=old_start),
              endpoint_url=kvs_server.endpoint_url, session=kvs_server.session())
    old = wait_stored(kvs_server, name, 4)
    producer = live_producer(kvs_server, name, duration_s=50)
    c = console("replay")
    c.extra = str(producer)
    c.open(f"#/streams/{name}")
    gap = c.page.get_by_role("list", name="Fragments").get_by_role("separator")
    c.wait("window.kvsConsole.fragments && window.kvsConsole.fragments.count >= 6", 20)
    expect(gap).to_have_count(1)
    assert "Gap" in gap.first.inner_text()

    # Live first, then 10 s back once the producer has sent enough for that.
    c.page.get_by_role("button", name="Live", exact=True).click()
    c.wait("window.kvsConsole.player.stats.mode === 'live' && window.kvsConsole.player.stats.frameTime !== null", 20)
    c.wait(f"window.kvsConsole.fragments.count >= {len(old) + 14}", 25)
    before = c.stats()["frameTime"]
    c.page.get_by_role("button", name="Back 10 s").click()
    c.wait("window.kvsConsole.player.stats.mode === 'replay' && window.kvsConsole.player.stats.firstFrameMs !== null", 15)
    after = c.stats()["frameTime"]
    assert before - 10.5 <= after <= before - 8.5, f"{before} -> {after}\n{c.state()}"
    c.wait("window.kvsConsole.player.stats.frameTime > a + 2", 10, arg=after)  # and it plays on from there

    # Start time: replay the older stretch; then playback steps over the gap into the newer media.
    c.page.get_by_label("Start time").fill(local_input(old[1]["ProducerTimestamp"]))
    c.page.get_by_role("button", name="Replay").click()
    c.wait(
        "window.kvsConsole.player.stats.mode === 'replay' && window.kvsConsole.player.stats.frameTime !== null"
        " && Math.abs(window.kvsConsole.player.stats.frameTime - a) < 1.5",
        15, arg=old[1]["ProducerTimestamp"],
    )
    numbers = {f["FragmentNumber"] for f in old}
    c.wait("a.includes(window.kvsConsole.player.stats.fragmentNumber)", 5, arg=sorted(numbers))
    c.wait("window.kvsConsole.player.stats.frameTime > a + 20", 20, arg=old[-1]["ProducerTimestamp"])
    c.wait("window.kvsConsole.player.stats.buffered > 3", 10)
    c.page.screenshot(path=shot("replay"))

    # Download clip: GetClip's MP4 of the older stretch, which PyAV reads.
    c.page.get_by_label("Clip start").fill(local_input(old[0]["ProducerTimestamp"] - 1))
    c.page.get_by_label("Clip end").fill(local_input(old[-1]["ProducerTimestamp"] + 2))
    with c.page.expect_download(timeout=30_000) as info:
        c.page.get_by_role("link", name="Download clip").click()
    download = info.value
    assert download.suggested_filename.endswith(".mp4")
    path = tmp_path / "clip.mp4"
    download.save_as(path)
    with av.open(str(path)) as clip:
        video = clip.streams.video[0]
        frames = sum(1 for _ in clip.decode(video))
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == (320, 240)
    assert frames == 4 * 25, frames  # the four 1-second fragments at 25 fps, nothing of the newer media
    expect(c.page.get_by_text("Clip ready")).to_be_visible()


# ---------------------------------------------------------------------- many fragments
def test_fragment_list_pages_through_ten_thousand_fragments(kvs_server, console, record_property):
    name = "console-many"
    kvs_server.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=24)
    count = 10_000
    media = sample_mkv(duration_s=count / 10, fragment_s=0.1, fps=10, width=64, height=48, start=time.time() - 3600)
    acks = put_media(name, media=media, endpoint_url=kvs_server.endpoint_url, session=kvs_server.session())
    assert sum(a["EventType"] == "PERSISTED" for a in acks) == count
    c = console("many")
    opened = time.monotonic()
    c.open(f"#/streams/{name}")
    pages = c.page.get_by_role("group", name="Fragment pages")
    expect(pages).to_contain_text("1–50 of 10,000", timeout=30_000)
    loaded_s = time.monotonic() - opened
    record_property("ten_thousand_fragments_listed_s", round(loaded_s, 2))
    expect(c.fragment_items()).to_have_count(50)
    oldest_number = stored_fragments(kvs_server, name)[0]["FragmentNumber"]
    assert c.page.evaluate("window.kvsConsole.fragments.sorted[0].number") == oldest_number
    pages.get_by_role("button", name="Oldest").click()
    expect(pages).to_contain_text("9,951–10,000 of 10,000")
    expect(c.fragment_items()).to_have_count(50)
    oldest = c.fragment_items().last
    expect(oldest).to_contain_text(oldest_number)
    pages.get_by_role("button", name="Newer").click()
    expect(pages).to_contain_text("9,901–9,950 of 10,000")
    c.wait("[...document.querySelectorAll('ul.fragments img')].some(i => i.complete && i.naturalWidth > 0)", 15)
    print(f"\nconsole: 10,000 fragments listed {loaded_s:.2f} s after opening the stream page")


# ---------------------------------------------------------------------- control
def test_clock_moves_retention_and_reset(kvs_server, console):
    name = "console-expiring"
    kvs_server.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    put_media(name, media=sample_mkv(duration_s=3, fragment_s=1), endpoint_url=kvs_server.endpoint_url,
              session=kvs_server.session())
    c = console("control")
    c.open(f"#/streams/{name}")
    expect(c.fragment_items()).to_have_count(3, timeout=15_000)
    control = c.context.new_page()
    control.goto(kvs_server.endpoint_url + CONSOLE + "#/control")
    control.get_by_label("Advance by").fill("2")
    control.get_by_role("button", name="Advance clock").click()
    expect(control.get_by_role("status").filter(has_text="Advanced")).to_be_visible()
    expect(control.locator("dl[aria-label='Emulator clock']")).to_contain_text("2 h")
    control.screenshot(path=shot("control"))
    # The stream page (another tab) notices the clock move: retention has ended for every fragment.
    expect(c.fragment_items()).to_have_count(0, timeout=15_000)
    expect(c.page.get_by_text("No fragments stored.")).to_be_visible()
    expect(c.page.locator(".clock .badge")).to_contain_text("+2 h")

    control.get_by_role("button", name="Reset all state").click()
    control.get_by_role("button", name="Delete every stream, channel and fragment").click()
    expect(control.get_by_text("Reset: every account and region is empty")).to_be_visible()
    assert kvs_server.kinesisvideo.list_streams()["StreamInfoList"] == []
    expect(c.page.get_by_role("alert")).to_contain_text("does not exist", timeout=15_000)


def test_request_log_marks_the_fault_that_struck(kvs_server, console):
    kvs_server.kinesisvideo.create_stream(StreamName="console-logged", DataRetentionInHours=1)
    rule = kvs_server.faults.add(operation="DescribeStream", stream="console-logged", error="InternalFailure", count=1)
    with pytest.raises(Exception, match="InternalFailure"):
        kvs_server.client("kinesisvideo", config=Config(retries={"total_max_attempts": 1})).describe_stream(
            StreamName="console-logged")
    c = console("requests")
    c.open("#/control")
    log = c.page.get_by_role("table", name="Recent requests (newest first)")
    faulted = log.get_by_role("row").filter(has_text=rule)
    expect(faulted).to_have_count(1, timeout=15_000)
    expect(faulted).to_contain_text("DescribeStream")
    expect(faulted).to_contain_text("console-logged")
    expect(faulted).to_contain_text("500")
    expect(faulted).to_contain_text("error InternalFailure (500)")
    c.page.screenshot(path=shot("requests"), full_page=True)


# ---------------------------------------------------------------------- signaling
def test_master_and_viewer_pages_connect_through_signaling(kvs_server, console):
    c = console("channels")
    c.open("#/channels")
    c.page.get_by_text("Create a signaling channel").click()
    c.page.get_by_label("Channel name").fill("front-door")
    c.page.get_by_role("button", name="Create channel").click()
    table = c.page.get_by_role("table", name="Signaling channels")
    expect(table.get_by_role("row").filter(has_text="front-door")).to_contain_text("SINGLE_MASTER")
    table.get_by_role("link", name="front-door").click()

    master = c
    master.page.get_by_role("button", name="Start master (camera)").click()
    expect(master.page.get_by_text("Master connected")).to_be_visible(timeout=15_000)

    viewer = console("viewer")
    viewer.open("#/channels/front-door")
    viewer.page.get_by_label("Client id").fill("console-viewer-1")
    viewer.page.get_by_role("button", name="Connect as viewer").click()
    # Frames decoded on the viewer: the master's (fake) camera crossed signaling, ICE and DTLS.
    viewer.wait("window.kvsConsole.peer && (window.kvsConsole.peer.summary().remotes.master || {}).framesDecoded > 25", 30)
    peers = viewer.page.get_by_role("table", name="Peer connections")
    expect(peers.get_by_role("row").filter(has_text="master")).to_contain_text("connected")
    expect(master.page.get_by_role("table", name="Peer connections").get_by_role("row")
           .filter(has_text="console-viewer-1")).to_contain_text("connected", timeout=10_000)
    master.wait("(window.kvsConsole.peer.summary().remotes['console-viewer-1'] || {}).framesSent > 25", 15)
    viewer.wait("document.querySelector('figure:not([hidden]) video').videoWidth > 0", 10)
    master.page.screenshot(path=shot("master"))
    viewer.page.screenshot(path=shot("viewer"))

    # A storage session: media storage on (to a stream), then the master joins it.
    kvs_server.kinesisvideo.create_stream(StreamName="front-door-recording", DataRetentionInHours=1)
    master.page.get_by_label("Stream", exact=True).select_option(label="front-door-recording", timeout=15_000)
    master.page.get_by_role("button", name="Enable media storage").click()
    master.page.get_by_role("button", name="Join storage session").click()
    expect(master.page.get_by_text("JoinStorageSession accepted")).to_be_visible()
    master.wait("window.kvsConsole.peer.summary().log.some(l => l.includes('answer sent to storage session'))", 15)
    storage_row = master.page.get_by_role("table", name="Peer connections").get_by_role("row").filter(has_text="storage session")
    expect(storage_row).to_contain_text("connected", timeout=15_000)
    master.page.screenshot(path=shot("storage"))
    recorded = wait_stored(kvs_server, "front-door-recording", 1, timeout_s=30)
    print(f"\nconsole storage session: {len(recorded)} fragments stored from the master's camera")
    # The recording's stream page (linked from the channel's) lists what the storage session
    # stores from the master's camera, and plays it live while the master goes on sending.
    href = master.page.get_by_role("region", name="Channel").get_by_role("link", name="front-door-recording").get_attribute("href")
    viewer.page.goto(kvs_server.endpoint_url + CONSOLE + href)
    expect(viewer.fragment_items().first).to_be_visible(timeout=15_000)
    viewer.wait("window.kvsConsole.player.stats.mode === 'live' && window.kvsConsole.player.stats.frameTime !== null", 30)
    viewer.page.screenshot(path=shot("recording"))


# ---------------------------------------------------------------------- HTTPS
def test_console_over_https(tls_server, launch_browser, page_log):
    """The same port serves the console over HTTPS (the local CA trusted as a user would); it plays there too."""
    server, ca = tls_server
    https_url = "https://" + server.endpoint_url.split("://", 1)[1]
    server.kinesisvideo.create_stream(StreamName="console-https", DataRetentionInHours=1)
    put_media("console-https", media=sample_mkv(duration_s=4, fragment_s=1), endpoint_url=server.endpoint_url,
              session=server.session())
    browser = launch_browser(ca=ca)
    page = browser.new_context(viewport=VIEWPORT, timezone_id="UTC").new_page()
    log = page_log(page, "https")
    page.goto(https_url + "/", wait_until="domcontentloaded")
    assert page.url == https_url + CONSOLE, log
    page.get_by_role("table", name="Streams").get_by_role("link", name="console-https").click()
    page.get_by_role("button", name="Live", exact=True).click()
    try:
        page.wait_for_function("() => window.kvsConsole.player.stats.frameTime !== null", timeout=20_000, polling=100)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"no frame over HTTPS: {exc}\n{page.evaluate('window.kvsConsole.player.stats')}\n{log}")
    endpoints = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    assert any(u.startswith(https_url + "/hls/v1/getMP4MediaFragment.mp4") for u in endpoints), endpoints[-20:]
