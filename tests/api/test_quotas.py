"""The service's quotas (``--quotas service|off``, ``kvsmock.quotas``, ``/_kvsmock/quotas``).

In-process the rate windows run on a clock the test holds still
(:func:`frozen_windows`), so "six calls within one second" is exactly that
however slow the machine is. Against the server real time runs: a burst is
checked only as far as its own timing allows (the first five calls of a
fresh window always pass; the sixth must fail when all six took under a
second).
"""

from __future__ import annotations

import re
import time
from types import SimpleNamespace
from urllib.parse import urljoin

import pytest
import requests
from botocore.exceptions import ClientError

import kvsmock
from conftest_plugin import KvsServer
from helpers.producers import RawPutMedia, fragment_media, has_ack, split_at_clusters
from kvsmock import put_media, sample_mkv
from kvsmock.errors import ClientLimitExceededException
from kvsmock.service import rate_limit
from kvsmock.service.quotas import charge_fragments, quotas
from kvsmock.service.signaling.hub import SignalingHub
from kvsmock.service.signaling.peers import MAX_VIEWERS_PER_CHANNEL, VIEWER

START = 1_700_000_000
THROTTLED = "ClientLimitExceededException"


@pytest.fixture(autouse=True)
def _mode_restored():
    before = quotas.mode
    yield
    quotas.set(before)


class _Seconds:
    """A clock for the rate windows that moves only when told."""

    def __init__(self) -> None:
        self.now = rate_limit.real_seconds() + 10  # past every event already counted: those windows are empty

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def frozen_windows(monkeypatch):
    """``freeze()``: from then on the rate windows' clock stands still until ``.advance(seconds)``."""

    def freeze() -> _Seconds:
        seconds = _Seconds()
        monkeypatch.setattr(rate_limit, "real_seconds", seconds)
        return seconds

    return freeze


def error(excinfo) -> tuple[str, int, str]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Message"]


def throttled(call, **params) -> str:
    """The message of the ClientLimitExceededException that ``call(**params)`` must fail with."""
    with pytest.raises(ClientError) as err:
        call(**params)
    code, status, message = error(err)
    assert (code, status) == (THROTTLED, 400), message
    return message


# ---------------------------------------------------------------- the mode
def test_the_mode_object():
    assert kvsmock.quotas is quotas
    assert quotas.mode == "service" and quotas.enforced
    quotas.set("off")
    assert quotas.mode == "off" and not quotas.enforced
    for bad in ("OFF", "on", "", None, 0):
        with pytest.raises(ValueError, match="'service' or 'off'"):
            quotas.set(bad)  # type: ignore[arg-type]
    assert quotas.mode == "off"
    quotas.set("service")
    assert quotas.enforced


def test_moto_reset_keeps_the_mode(kvs):
    from kvsmock.api.moto_glue import reset_all

    quotas.set("off")
    reset_all()
    assert quotas.mode == "off"


# ------------------------------------------------------ control plane, in-process
def test_sixth_describe_stream_in_a_second_is_throttled(kvs, frozen_windows):
    c = kvs.kinesisvideo
    arn = c.create_stream(StreamName="cam")["StreamARN"]
    c.create_stream(StreamName="other")
    seconds = frozen_windows()
    # A name and an ARN of one stream share its window.
    for target in [{"StreamName": "cam"}] * 3 + [{"StreamARN": arn}] * 2:
        c.describe_stream(**target)
    for target in ({"StreamName": "cam"}, {"StreamARN": arn}):
        message = throttled(c.describe_stream, **target)
        assert "DescribeStream is limited to 5 calls per second per stream" in message
    c.describe_stream(StreamName="other")  # another stream: a window of its own
    c.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")  # another operation: its own too
    seconds.advance(1.0)  # the window has moved past the burst
    c.describe_stream(StreamName="cam")


def test_one_edge_configuration_update_a_second_per_stream(kvs, frozen_windows):
    c = kvs.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=1)
    frozen_windows()
    with pytest.raises(ClientError) as err:
        c.delete_edge_configuration(StreamName="cam")
    assert error(err)[0] == "StreamEdgeConfigurationNotFoundException"  # counted all the same
    message = throttled(c.delete_edge_configuration, StreamName="cam")
    assert "1 calls per second per stream (cam)" in message


def test_account_limit(kvs, frozen_windows):
    c = kvs.kinesisvideo
    seconds = frozen_windows()
    for i in range(50):
        c.create_stream(StreamName=f"cam-{i}")
    message = throttled(c.create_stream, StreamName="cam-50")
    assert "CreateStream is limited to 50 calls per second per account and Region" in message
    assert "cam-50" not in {s["StreamName"] for s in c.list_streams()["StreamInfoList"]}
    kvs.client("kinesisvideo", region_name="eu-west-1").create_stream(StreamName="cam-50")  # another Region
    seconds.advance(1.0)
    c.create_stream(StreamName="cam-50")


def test_channels_per_channel_limit(kvs, frozen_windows):
    c = kvs.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="door")["ChannelARN"]
    frozen_windows()
    for _ in range(5):
        c.list_tags_for_resource(ResourceARN=arn)
    message = throttled(c.list_tags_for_resource, ResourceARN=arn)
    assert "5 calls per second per signaling channel (door)" in message


def test_off_lifts_the_control_plane_limits(kvs, frozen_windows):
    c = kvs.kinesisvideo
    c.create_stream(StreamName="cam")
    frozen_windows()
    quotas.set("off")
    for _ in range(20):
        c.describe_stream(StreamName="cam")
    for i in range(60):
        c.create_stream(StreamName=f"cam-{i}")
    quotas.set("service")  # on again: calls made while off were not counted
    for _ in range(5):
        c.describe_stream(StreamName="cam")
    throttled(c.describe_stream, StreamName="cam")


# ----------------------------------------------------- fragment buckets, in-process
def _images(client, name: str, max_results: int = 100):
    # One instant far from any media: answered NO_MEDIA, no decoding, the points charged all the same.
    return client.get_images(
        StreamName=name, ImageSelectorType="PRODUCER_TIMESTAMP", StartTimestamp=1000, EndTimestamp=1000,
        Format="JPEG", MaxResults=max_results,
    )


def test_fragment_media_bucket(kvs, kvs_stream, frozen_windows):
    archive = kvs.archived_media(kvs_stream.name)
    numbers = [f["FragmentNumber"] for f in archive.list_fragments(StreamName=kvs_stream.name)["Fragments"]]
    seconds = frozen_windows()
    for _ in range(5):  # 5 x 100 media points: the stream's 500 a second
        assert _images(archive, kvs_stream.name)["Images"][0]["Error"] == "NO_MEDIA"
    message = throttled(_images, client=archive, name=kvs_stream.name)
    assert "fragment-media" in message and "500" in message
    # The bucket is the stream's, shared by the APIs that draw on it.
    throttled(archive.get_media_for_fragment_list, StreamName=kvs_stream.name, Fragments=numbers[:1])
    # The metadata bucket (10,000 a second) still has room: 5 x 500 taken so far.
    archive.list_fragments(StreamName=kvs_stream.name, MaxResults=1000)
    seconds.advance(1.0)
    payload = archive.get_media_for_fragment_list(StreamName=kvs_stream.name, Fragments=numbers)["Payload"].read()
    assert payload


def test_fragment_metadata_bucket(kvs, kvs_stream, frozen_windows):
    archive = kvs.archived_media(kvs_stream.name)
    starts = [f["ProducerTimestamp"] for f in archive.list_fragments(StreamName=kvs_stream.name)["Fragments"]]
    frozen_windows()
    for _ in range(10):  # 10 x 1000 metadata points
        archive.list_fragments(StreamName=kvs_stream.name, MaxResults=1000)
    message = throttled(archive.list_fragments, StreamName=kvs_stream.name, MaxResults=1)
    assert "fragment-metadata" in message and "10,000" in message
    # GetClip counts its fragments against both buckets: refused too.
    throttled(
        archive.get_clip, StreamName=kvs_stream.name,
        ClipFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                              "TimestampRange": {"StartTimestamp": min(starts), "EndTimestamp": max(starts)}},
    )


def test_a_call_past_the_bucket_passes_while_the_bucket_has_points_left(frozen_windows):
    """GetMediaForFragmentList may ask for 1,000 fragments, more than the 500 media points a second:
    it passes while the stream's bucket is not exhausted, and the calls after it wait."""
    backend, stream = SimpleNamespace(), SimpleNamespace(arn="arn:aws:kinesisvideo:us-east-1:1:stream/cam/1", name="cam")
    seconds = frozen_windows()
    charge_fragments(backend, stream, media=1000, operation="GetMediaForFragmentList")
    with pytest.raises(ClientLimitExceededException, match="GetMP4MediaFragment needs 1 fragment-media points"):
        charge_fragments(backend, stream, media=1, operation="GetMP4MediaFragment")
    seconds.advance(1.0)
    charge_fragments(backend, stream, media=1, operation="GetMP4MediaFragment")
    charge_fragments(backend, stream, metadata=10_000, operation="ListFragments")  # the other bucket: its own points


def test_off_lifts_the_fragment_buckets(kvs, kvs_stream, frozen_windows):
    archive = kvs.archived_media(kvs_stream.name)
    frozen_windows()
    quotas.set("off")
    for _ in range(8):
        _images(archive, kvs_stream.name)
    for _ in range(12):
        archive.list_fragments(StreamName=kvs_stream.name, MaxResults=1000)


# ---------------------------------------------------------------- HLS, in-process
def _hls_segment(kvs, name: str) -> str:
    """The URL of the first media segment of an ON_DEMAND HLS session (master and media playlist fetched once)."""
    url = kvs.archived_media(name, "GET_HLS_STREAMING_SESSION_URL").get_hls_streaming_session_url(
        StreamName=name, PlaybackMode="ON_DEMAND",
        HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                             "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 10}},
    )["HLSStreamingSessionURL"]
    master = requests.get(url, timeout=10)
    assert master.status_code == 200, master.text
    playlist_url = urljoin(url, next(line for line in master.text.splitlines() if line and not line.startswith("#")))
    playlist = requests.get(playlist_url, timeout=10)
    assert playlist.status_code == 200, playlist.text
    segment = next(line for line in playlist.text.splitlines() if "getMP4MediaFragment" in line)
    return urljoin(playlist_url, segment)


def test_hls_media_segments_draw_on_the_stream_bucket_not_a_session_limit(kvs, frozen_windows):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=4, fragment_s=2, audio=True, start=0), region_name=kvs.region_name,
              timecode_type="RELATIVE", producer_start_timestamp=START)
    segment = _hls_segment(kvs, "cam")
    archive = kvs.archived_media("cam", "GET_IMAGES")
    frozen_windows()
    # A player fetching audio and video segments of one session: past the old 20 a second per session.
    for _ in range(30):
        assert requests.get(segment, timeout=10).status_code == 200
    for _ in range(4):  # 400 more points from the stream's fragment-media bucket
        _images(archive, "cam")
    served = 0
    while True:
        response = requests.get(segment, timeout=10)
        if response.status_code != 200:
            break
        served += 1
        assert served <= 70
    assert served == 70  # 30 + 400 + 70 = the 500 points a second of the stream
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith(THROTTLED)
    assert "GetMP4MediaFragment" in response.json()["Message"]


def test_hls_playlists_keep_their_per_session_limit(kvs, frozen_windows):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=2, fragment_s=2, start=0), region_name=kvs.region_name,
              timecode_type="RELATIVE", producer_start_timestamp=START)
    segment = _hls_segment(kvs, "cam")
    master = re.sub(r"/getMP4MediaFragment\.mp4\?.*SessionToken=([^&]+).*", r"/getHLSMasterPlaylist.m3u8?SessionToken=\1",
                    segment)
    frozen_windows()
    statuses = [requests.get(master, timeout=10).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [400]
    quotas.set("off")
    assert all(requests.get(master, timeout=10).status_code == 200 for _ in range(10))


# --------------------------------------------------------- signaling, in-process
def test_viewer_cap_lifted_when_off(kvs):
    channel_arn = kvs.kinesisvideo.create_signaling_channel(ChannelName="busy")["ChannelARN"]
    from kvsmock.api.moto_glue import backend_for

    channel = backend_for("123456789012", "us-east-1").find_channel({"ChannelARN": channel_arn})
    hub = SignalingHub()

    def connect(client_id: str) -> None:
        hub.connect(channel, VIEWER, client_id, lambda event: None, lambda code, reason: None)

    for i in range(MAX_VIEWERS_PER_CHANNEL):
        connect(f"v{i}")
    with pytest.raises(ClientLimitExceededException, match="maximum of 10 connected viewers"):
        connect("one-too-many")
    quotas.set("off")
    for i in range(5):
        connect(f"extra-{i}")
    assert len(hub.connected(channel_arn)["viewers"]) == MAX_VIEWERS_PER_CHANNEL + 5


def test_rate_limiters_still_count_while_off():
    limiter = rate_limit.RateLimiter(2)
    quotas.set("off")
    assert all(limiter.allow() for _ in range(10))
    assert not limiter.idle_for(5)  # what the signaling hub's clean-up reads


# ------------------------------------------------------------------ the server
def _mode(server) -> requests.Response:
    return requests.get(f"{server.endpoint_url}/_kvsmock/quotas", timeout=10)


def _set_mode(server, body, **kwargs) -> requests.Response:
    return requests.post(f"{server.endpoint_url}/_kvsmock/quotas", json=body, timeout=10, **kwargs)


@pytest.fixture
def server(kvs_server):
    """The session's server; its quota mode back to "service" after the test."""
    try:
        yield kvs_server
    finally:
        _set_mode(kvs_server, {"mode": "service"}).raise_for_status()


def test_control_endpoint(server):
    assert _mode(server).json() == {"mode": "service"}
    r = _set_mode(server, {"mode": "off"})
    assert (r.status_code, r.json()) == (200, {"mode": "off"})
    assert _mode(server).json() == {"mode": "off"}
    for bad in ({"mode": "OFF"}, {"mode": "unlimited"}, {"mode": None}, {}, ["off"], "off"):
        r = _set_mode(server, bad)
        assert r.status_code == 400 and "service" in r.json()["Message"], bad
    r = requests.post(f"{server.endpoint_url}/_kvsmock/quotas", data=b"not json", timeout=10)
    assert r.status_code == 400 and r.json()["Message"]
    r = requests.put(f"{server.endpoint_url}/_kvsmock/quotas", json={"mode": "service"}, timeout=10)
    assert r.status_code == 405
    assert _mode(server).json() == {"mode": "off"}  # nothing above changed it
    server.reset()  # a reset keeps the mode: it is a server setting
    assert _mode(server).json() == {"mode": "off"}
    assert _set_mode(server, {"mode": "service"}).json() == {"mode": "service"}


def _burst(call, count: int, **params) -> tuple[list[str], float]:
    """``count`` calls as fast as they go: each one's error code ("ok" if none), and the seconds they took."""
    started = time.monotonic()
    out = []
    for _ in range(count):
        try:
            call(**params)
            out.append("ok")
        except ClientError as err:
            out.append(err.response["Error"]["Code"])
    return out, time.monotonic() - started


def test_server_describe_stream_limit_and_off(server):
    c = server.kinesisvideo
    judged = False
    for attempt in range(3):  # a fresh stream, a fresh window, each time
        name = f"cam-{attempt}"
        c.create_stream(StreamName=name)
        out, took = _burst(c.describe_stream, 6, StreamName=name)
        assert out[:5] == ["ok"] * 5  # a fresh window takes five whatever the timing
        if took < 1.0:  # all six inside one second: the sixth was over the limit
            assert out[5] == THROTTLED
            judged = True
            break
    assert judged, "six DescribeStream calls over loopback never fitted in one second"
    assert _set_mode(server, {"mode": "off"}).status_code == 200
    out, _ = _burst(c.describe_stream, 20, StreamName="cam-0")
    assert out == ["ok"] * 20


def _get_media(server, stream: str) -> requests.Response:
    return requests.post(
        f"{server.endpoint_url}/getMedia",
        json={"StreamName": stream, "StartSelector": {"StartSelectorType": "NOW"}},
        stream=True,
        timeout=30,
    )


def test_fourth_get_media_connection_refused_unless_off(server):
    server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    header, fragments = split_at_clusters(fragment_media(2))
    producer = RawPutMedia(server.port, "cam")  # while a producer is connected, GetMedia keeps tailing
    readers: list[requests.Response] = []
    try:
        producer.send(header + fragments[0])
        producer.read_until(has_ack("PERSISTED", 0))
        for _ in range(3):
            readers.append(_get_media(server, "cam"))
            assert readers[-1].status_code == 200
        fourth = _get_media(server, "cam")
        assert fourth.status_code == 400
        assert fourth.headers["x-amzn-ErrorType"].startswith("ConnectionLimitExceededException")
        assert _set_mode(server, {"mode": "off"}).status_code == 200
        for _ in range(3):  # and GetMedia calls past 5 a second
            readers.append(_get_media(server, "cam"))
            assert readers[-1].status_code == 200
    finally:
        for reader in readers:
            reader.close()
        producer.close()


def test_server_quotas_flag():
    server = KvsServer(extra_args=["--quotas", "off"])
    try:
        assert _mode(server).json() == {"mode": "off"}
        assert "kvsmock quotas: off" in server.read_log()
        c = server.kinesisvideo
        c.create_stream(StreamName="cam")
        out, _ = _burst(c.describe_stream, 12, StreamName="cam")
        assert out == ["ok"] * 12
    finally:
        server.stop()


def test_cli_refuses_an_unknown_mode(capsys):
    from kvsmock.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["server", "--quotas", "unlimited"])
    assert "invalid choice" in capsys.readouterr().err
    assert build_parser().parse_args(["server"]).quotas == "service"
