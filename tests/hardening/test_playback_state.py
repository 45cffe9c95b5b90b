"""Playback state belongs to its backend: reset clears it, caches never cross streams, limits follow real time."""

from __future__ import annotations

import io

import av
import boto3
import pytest
import requests
from freezegun import freeze_time

from kvsmock import mock_kinesisvideo, put_media, sample_mkv
from kvsmock.service.rate_limit import RateLimiter, real_seconds

START = 1_700_000_000
SELECTOR = {
    "FragmentSelectorType": "PRODUCER_TIMESTAMP",
    "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 100},
}


def _stream_with(width: int, height: int) -> str:
    """A stream 'cam' of ``width``x``height`` video, and its ON_DEMAND HLS session URL."""
    kv = boto3.client("kinesisvideo", region_name="us-east-1")
    kv.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=1, width=width, height=height, start=START),
              region_name="us-east-1")
    endpoint = kv.get_data_endpoint(StreamName="cam", APIName="GET_HLS_STREAMING_SESSION_URL")["DataEndpoint"]
    archive = boto3.client("kinesis-video-archived-media", region_name="us-east-1", endpoint_url=endpoint)
    return archive.get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="ON_DEMAND", HLSFragmentSelector=SELECTOR
    )["HLSStreamingSessionURL"]


def _segment_width(url: str) -> int:
    """The width of the video in the session's first init + media segment."""
    base = url.split("getHLSMasterPlaylist")[0]
    token = url.split("SessionToken=")[1]
    playlist = requests.get(f"{base}getHLSMediaPlaylist.m3u8?SessionToken={token}&TrackNumber=1", timeout=10).text
    media_uri = next(line for line in playlist.splitlines() if line.startswith("getMP4MediaFragment"))
    init = requests.get(f"{base}getMP4InitFragment.mp4?SessionToken={token}&TrackNumber=1", timeout=10).content
    media = requests.get(base + media_uri, timeout=10).content
    with av.open(io.BytesIO(init + media)) as container:
        return next(container.decode(video=0)).width


@pytest.mark.usefixtures("monkeypatch")
def test_two_mocks_under_frozen_time_never_share_segments(monkeypatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(key, value)
    with freeze_time("2026-12-06 12:00:00"):
        with mock_kinesisvideo():
            first_url = _stream_with(320, 240)
            assert _segment_width(first_url) == 320
        with mock_kinesisvideo():
            second_url = _stream_with(160, 120)
            # Same ARN, same fragment numbers under the frozen clock: still its own segments.
            assert _segment_width(second_url) == 160
            # and the first mock's session did not survive into the second
            old = requests.get(first_url, timeout=10)
            assert old.status_code in (401, 404), old.text


def test_reset_forgets_sessions(kvs_server):
    kv = kvs_server.kinesisvideo
    kv.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=1, start=START), endpoint_url=kvs_server.endpoint_url,
              session=kvs_server.session())
    archive = kvs_server.archived_media("cam", "GET_HLS_STREAMING_SESSION_URL")
    url = archive.get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="ON_DEMAND", HLSFragmentSelector=SELECTOR
    )["HLSStreamingSessionURL"]
    assert requests.get(url, timeout=10).status_code == 200
    kvs_server.reset()
    gone = requests.get(url, timeout=10)
    assert gone.status_code == 401 and gone.headers["x-amzn-ErrorType"] == "NotAuthorizedException"


def test_a_token_kvsmock_never_made_is_not_authorized(kvs_server):
    base = f"{kvs_server.endpoint_url}/hls/v1/getHLSMasterPlaylist.m3u8"
    for token in ("CiAnotbase64!!~", "CiA" + "A" * 40 + "~", "garbage"):
        r = requests.get(f"{base}?SessionToken={token}", timeout=10)
        assert (r.status_code, r.headers["x-amzn-ErrorType"]) == (401, "NotAuthorizedException"), token


def test_playback_limits_follow_real_time_under_frozen_clock(kvs, monkeypatch):
    with freeze_time("2026-12-06 12:00:00"):
        url = _stream_with(320, 240)
        playlist = url.replace("getHLSMasterPlaylist", "getHLSMediaPlaylist") + "&TrackNumber=1"
        first = real_seconds()
        statuses = [requests.get(playlist, timeout=10).status_code for _ in range(6)]
        if real_seconds() - first < 1.0:  # all six in one real second: the sixth is over the limit
            assert statuses[:5] == [200] * 5 and statuses[5] == 400
        # Once a real second has passed the window has room again, though the emulator clock stands still.
        while real_seconds() - first < 1.05:
            pass
        assert requests.get(playlist, timeout=10).status_code == 200


def test_rate_limiter_window_moves_under_freezegun():
    limiter = RateLimiter(2)
    with freeze_time("2026-12-06 12:00:00"):
        assert limiter.allow() and limiter.allow() and not limiter.allow()
        began = real_seconds()
        while real_seconds() - began < 1.0:
            pass
        assert limiter.allow()
