"""HLS streaming sessions: the session URL, its playlists and segments, as players see them.

FFmpeg (through PyAV) is the real client here: it opens the session URL the
service hands out, follows the master playlist to the media playlists and
demuxes every segment.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from dataclasses import replace
from urllib.parse import parse_qs, urljoin, urlsplit

import av
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from kvsmock import clock, put_media, sample_mkv
from kvsmock.media import ebml
from kvsmock.media.matroska import write_mkv
from kvsmock.media.mp4.boxes import first_tfdt, split_boxes
from kvsmock.media.sample import encode_sample

START = 1_700_000_000
MEDIA = sample_mkv(duration_s=6, fragment_s=2, audio=True, start=0)  # RELATIVE; 3 fragments, 150 video frames
FRAMES = 150
RANGE = {"StartTimestamp": START, "EndTimestamp": START + 10}
PRODUCER = {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": RANGE}


@pytest.fixture(autouse=True)
def _wall_clock():
    yield
    clock.reset()  # the in-process clock, moved by expiry tests


def _put(kv, name="cam", media=MEDIA, start=START, retention=1, create=True):
    if create:
        kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=retention)
    return put_media(
        name,
        media=media,
        endpoint_url=kv.endpoint_url,
        session=kv.session(),
        timecode_type="RELATIVE",
        producer_start_timestamp=start,
    )


def _archive(kv, name="cam"):
    """An archived-media client on the stream's endpoint, made once per test and stream."""
    clients = kv.__dict__.setdefault("_hls_clients", {})
    if name not in clients:
        endpoint = kv.data_endpoint(name, "GET_HLS_STREAMING_SESSION_URL")
        # No client-side checks: the service's own validation is under test.
        clients[name] = kv.client("kinesis-video-archived-media", endpoint_url=endpoint, config=Config(parameter_validation=False))
    return clients[name]


def _session(kv, name="cam", **params):
    params.setdefault("StreamName", name)
    return _archive(kv, name).get_hls_streaming_session_url(**params)["HLSStreamingSessionURL"]


def _advance(kv, seconds):
    if kv.endpoint_url:
        kv.advance_clock(seconds)
    else:
        clock.advance(seconds)


def _get(url):
    response = requests.get(url, timeout=10)
    return response


def _uris(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _media_playlist(master_url, track=None):
    master = _get(master_url)
    assert master.status_code == 200, master.text
    uris = _uris(master.text)
    uri = uris[0]
    if track is not None:
        uri = re.sub(r"TrackNumber=\d+", f"TrackNumber={track}", uri)
    url = urljoin(master_url, uri)
    response = _get(url)
    assert response.status_code == 200, response.text
    return url, response.text


def _error(response):
    return response.status_code, response.headers.get("x-amzn-ErrorType"), response.json().get("Message")


def _client_error(call):
    with pytest.raises(ClientError) as err:
        call()
    return err.value.response["Error"]["Code"], err.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ------------------------------------------------------------ a real player
@pytest.mark.parametrize("container", ["FRAGMENTED_MP4", "MPEG_TS"])
@pytest.mark.parametrize("mode", ["ON_DEMAND", "LIVE_REPLAY"])
def test_ffmpeg_plays_every_frame(kvs_server, container, mode):
    _put(kvs_server)
    url = _session(kvs_server, PlaybackMode=mode, ContainerFormat=container, HLSFragmentSelector=PRODUCER)
    assert url.startswith(f"{kvs_server.endpoint_url}/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=")
    if mode == "LIVE_REPLAY":
        kvs_server.advance_clock(7)  # the replay reveals one fragment per fragment duration
    with av.open(url, timeout=10) as container_:
        assert {s.type for s in container_.streams} == {"video", "audio"}
        frames = [frame.time for frame in container_.decode(video=0)]
    assert len(frames) == FRAMES
    # Producer time all the way through: the segments line up on one timeline.
    assert frames == sorted(frames)
    if container == "FRAGMENTED_MP4":
        assert frames[0] == pytest.approx(START) and frames[-1] == pytest.approx(START + 5.96)


def test_in_process_session_url_is_served_through_requests(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    assert re.match(
        r"https://b-[0-9a-f]{8}\.kinesisvideo\.us-east-1\.amazonaws\.com/hls/v1/getHLSMasterPlaylist\.m3u8\?SessionToken=[\w~-]+$",
        url,
    )
    master = _get(url)
    assert master.status_code == 200
    assert master.headers["Content-Type"] == "application/vnd.apple.mpegurl"
    assert '#EXT-X-MEDIA:AUTOSELECT=YES,FORCED=NO,TYPE=AUDIO,URI="getHLSMediaPlaylist.m3u8?' in master.text
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=320x240,FRAME-RATE=25\.00,BANDWIDTH=\d+,AUDIO="audio"', master.text)

    data = b""
    for track, frames in ((1, FRAMES), (2, None)):
        playlist_url, text = _media_playlist(url, track)
        init_uri = re.search(r'#EXT-X-MAP:URI="([^"]+)"', text).group(1)
        init = _get(urljoin(playlist_url, init_uri))
        assert init.headers["Content-Type"] == ("video/mp4" if track == 1 else "audio/mp4")
        assert [b[0] for b in split_boxes(init.content)] == ["ftyp", "moov"]
        media = [_get(urljoin(playlist_url, uri)) for uri in _uris(text)]
        assert len(media) == 3 and all(r.status_code == 200 for r in media)
        for r in media:
            assert [b[0] for b in split_boxes(r.content)] == ["moof", "mdat"]
        with av.open(io.BytesIO(init.content + b"".join(r.content for r in media))) as c:
            decoded = sum(1 for _ in c.decode(c.streams[0]))
        if frames:
            assert decoded == frames
        else:
            assert decoded > 250  # 6 s of 48 kHz AAC in 1024-sample frames


def test_fmp4_segments_carry_the_fragments_own_time(kv):
    _put(kv)
    playlist_url, text = _media_playlist(_session(kv, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER))
    tfdts = []
    for uri in _uris(text):
        body = _get(urljoin(playlist_url, uri)).content
        moof = next(body[s:e] for kind, s, e in split_boxes(body) if kind == "moof")
        tfdts.append(first_tfdt(moof))
    # 90 kHz video timescale; each fragment starts at its producer timestamp.
    assert tfdts == [START * 90_000, (START + 2) * 90_000, (START + 4) * 90_000]


def test_ts_segments_keep_pts_and_hold_every_track(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", ContainerFormat="MPEG_TS", HLSFragmentSelector=PRODUCER)
    master = _get(url).text
    assert "#EXT-X-MEDIA" not in master  # TS segments carry audio and video together
    playlist_url, text = _media_playlist(url)
    assert "#EXT-X-VERSION:3" in text and "#EXT-X-MAP" not in text
    uris = _uris(text)
    assert all(u.startswith("getTSFragment.ts?FragmentNumber=") for u in uris)
    first = _get(urljoin(playlist_url, uris[1]))
    assert first.headers["Content-Type"] == "video/MP2T"
    with av.open(io.BytesIO(first.content), format="mpegts") as c:
        assert {s.type for s in c.streams} == {"video", "audio"}
        frame = next(c.decode(video=0))
    assert frame.pts == ((START + 2) * 90_000) % 2**33


# ------------------------------------------------------- playlist contents
def test_on_demand_playlist_shape(kv):
    acks = _put(kv)
    numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
    url = _session(
        kv, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER, DisplayFragmentTimestamp="ALWAYS", DiscontinuityMode="ALWAYS"
    )
    _, text = _media_playlist(url)
    lines = text.splitlines()
    assert lines[:6] == [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-TARGETDURATION:3",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    assert lines[6] == "#EXT-X-DISCONTINUITY"
    assert lines[7].startswith('#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken=') and lines[7].endswith(
        '&TrackNumber=1&SequenceNumber=0"'
    )
    assert [line for line in lines if line.startswith("#EXT-X-PROGRAM-DATE-TIME")] == [
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z",
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:24.000Z",
    ]
    assert lines.count("#EXT-X-DISCONTINUITY") == 4  # before each segment and before ENDLIST
    assert lines[-1] == "#EXT-X-ENDLIST"
    assert [parse_qs(urlsplit(u).query)["FragmentNumber"][0] for u in _uris(text)] == numbers
    assert all(re.fullmatch(r"#EXTINF:2(\.\d{1,3})?,", line) for line in lines if line.startswith("#EXTINF"))


@pytest.mark.parametrize(
    "selector_type, mode, expected",
    [
        ("SERVER_TIMESTAMP", None, 6),  # the default for SERVER_TIMESTAMP is ALWAYS
        ("PRODUCER_TIMESTAMP", None, 0),  # and NEVER for PRODUCER_TIMESTAMP
        ("PRODUCER_TIMESTAMP", "NEVER", 0),
        ("PRODUCER_TIMESTAMP", "ON_DISCONTINUITY", 1),
        ("PRODUCER_TIMESTAMP", "ALWAYS", 6),
    ],
)
def test_discontinuity_modes(kvs, selector_type, mode, expected):
    _put(kvs)
    _put(kvs, start=START + 100, create=False)  # a second session after a 94-s gap
    now = clock.advance(1)  # EndTimestamp goes out in whole ms: the last fragment arrived well within the range
    ts_range = RANGE | {"EndTimestamp": START + 200} if selector_type == "PRODUCER_TIMESTAMP" else {"StartTimestamp": now - 60, "EndTimestamp": now}
    params = {"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": selector_type, "TimestampRange": ts_range}}
    if mode:
        params["DiscontinuityMode"] = mode
    _, text = _media_playlist(_session(kvs, **params))
    segments = text.split("#EXT-X-ENDLIST")[0]
    if expected == 1:
        # Only where the producer timeline jumps: between the 3rd and 4th segment.
        body = segments.split("#EXTINF")
        assert "#EXT-X-DISCONTINUITY" in body[3] and segments.count("#EXT-X-DISCONTINUITY") == 1
    else:
        trailing = 1 if expected == 6 else 0  # ALWAYS also puts one before #EXT-X-ENDLIST
        assert segments.count("#EXT-X-DISCONTINUITY") == expected + trailing
    assert "#EXT-X-PROGRAM-DATE-TIME" not in text  # DisplayFragmentTimestamp defaults to NEVER


def test_server_timestamp_program_date_time_is_the_server_time(kvs):
    acks = _put(kvs)
    now = clock.advance(1)  # EndTimestamp goes out in whole ms: the last fragment arrived well within the range
    url = _session(
        kvs,
        PlaybackMode="ON_DEMAND",
        DisplayFragmentTimestamp="ALWAYS",
        HLSFragmentSelector={"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": now - 60, "EndTimestamp": now}},
    )
    _, text = _media_playlist(url)
    listed = kvs.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    server = sorted(f["ServerTimestamp"].timestamp() for f in listed)
    shown = re.findall(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", text)
    from datetime import datetime

    assert [datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in shown] == pytest.approx(server, abs=0.001)
    assert len(acks) == 9


def test_max_media_playlist_fragment_results(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER, MaxMediaPlaylistFragmentResults=2)
    _, text = _media_playlist(url)
    assert len(_uris(text)) == 2 and text.rstrip().endswith("#EXT-X-ENDLIST")
    # The range counts fragment *starts*: a range starting inside the first fragment skips it.
    url = _session(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector={**PRODUCER, "TimestampRange": {"StartTimestamp": START + 1, "EndTimestamp": START + 4}})
    _, text = _media_playlist(url)
    assert len(_uris(text)) == 2


def test_producer_timestamp_duplicates_keep_the_newest_fragment(kvs):
    first = [a["FragmentNumber"] for a in _put(kvs) if a["EventType"] == "PERSISTED"]
    second = [a["FragmentNumber"] for a in _put(kvs, create=False) if a["EventType"] == "PERSISTED"]
    _, text = _media_playlist(_session(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER))
    listed = [parse_qs(urlsplit(u).query)["FragmentNumber"][0] for u in _uris(text)]
    assert listed == second and not set(listed) & set(first)


def test_live_replay_adds_a_fragment_per_fragment_duration(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="LIVE_REPLAY", HLSFragmentSelector=PRODUCER)
    playlist_url, text = _media_playlist(url)
    assert len(_uris(text)) == 1
    assert "#EXT-X-ENDLIST" not in text and "#EXT-X-PLAYLIST-TYPE" not in text
    clock.advance(2.1)
    assert len(_uris(_get(playlist_url).text)) == 2
    clock.advance(2.1)
    text = _get(playlist_url).text
    assert len(_uris(text)) == 3 and text.rstrip().endswith("#EXT-X-ENDLIST")  # the closed range is played out


def test_live_replay_without_end_keeps_following_the_stream(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="LIVE_REPLAY", HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {"StartTimestamp": START + 2}})
    playlist_url, text = _media_playlist(url)
    assert len(_uris(text)) == 1
    clock.advance(10)
    assert len(_uris(_get(playlist_url).text)) == 2
    _put(kvs, start=START + 6, create=False)
    text = _get(playlist_url).text
    assert len(_uris(text)) == 3 and "#EXT-X-ENDLIST" not in text
    clock.advance(10)
    assert len(_uris(_get(playlist_url).text)) == 5  # the window: MaxMediaPlaylistFragmentResults defaults to 5


def test_live_window_slides(kvs):
    _put(kvs)
    url = _session(kvs, MaxMediaPlaylistFragmentResults=2)  # PlaybackMode LIVE is the default
    playlist_url, text = _media_playlist(url)
    assert "#EXT-X-MEDIA-SEQUENCE:1" in text and len(_uris(text)) == 2
    assert "#EXT-X-ENDLIST" not in text and "#EXT-X-PLAYLIST-TYPE" not in text
    assert "#EXT-X-DISCONTINUITY-SEQUENCE" not in text
    _put(kvs, start=START - 100, create=False)  # newer fragments, older producer timestamps
    text = _get(playlist_url).text
    assert "#EXT-X-MEDIA-SEQUENCE:4" in text and len(_uris(text)) == 2
    # SERVER_TIMESTAMP: a discontinuity before every segment, counted as they slide out.
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:2" in text


# ------------------------------------------------------------ a live stream
def _clusters(media: bytes) -> tuple[bytes, list[bytes]]:
    pos = 0
    element_id, size, head = ebml.read_element_header(media, pos)
    pos += head + size
    element_id, size, head = ebml.read_element_header(media, pos)
    pos += head
    starts = []
    while pos < len(media):
        element_id, size, head = ebml.read_element_header(media, pos)
        if element_id == ebml.CLUSTER:
            starts.append(pos)
        pos += head + size
    return media[: starts[0]], [media[s:e] for s, e in zip(starts, starts[1:] + [len(media)])]


class _Producer:
    """A chunked PutMedia over a raw socket, noting when each PERSISTED ACK arrives."""

    def __init__(self, port: int, stream: str):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            (
                "POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"x-amzn-stream-name: {stream}\r\nx-amzn-fragment-timecode-type: RELATIVE\r\n"
                f"x-amzn-producer-start-timestamp: {time.time():.3f}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n"
            ).encode()
        )
        self.persisted: dict[str, float] = {}
        self.acked = threading.Condition()  # notified with each PERSISTED ACK
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        raw = b""
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return
                raw += data
                for match in re.finditer(rb"\{[^{}]*\}", raw):
                    event = json.loads(match.group())
                    if event.get("EventType") == "PERSISTED":
                        with self.acked:
                            self.persisted.setdefault(event["FragmentNumber"], time.monotonic())
                            self.acked.notify_all()
        except OSError:
            return

    def send(self, data: bytes) -> None:
        self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def close(self) -> None:
        try:
            self.sock.sendall(b"0\r\n\r\n")
        finally:
            self.sock.close()


def test_live_playlist_follows_a_producer(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    encoded = encode_sample(5, 1, 25, 320, 240, "h264", False)
    header, fragments = _clusters(write_mkv(encoded.tracks, encoded.packets))
    producer = _Producer(kvs_server.port, "cam")
    seen: dict[str, float] = {}
    try:
        producer.send(header + fragments[0])
        with producer.acked:
            assert producer.acked.wait_for(lambda: producer.persisted, 5), "no PERSISTED ACK"
        first = next(iter(producer.persisted))  # persisted before the session existed
        url = _session(kvs_server, MaxMediaPlaylistFragmentResults=3)
        playlist_url, _ = _media_playlist(url)
        sequences = []
        next_send = time.monotonic()
        sent = 1
        end = time.monotonic() + 8
        while time.monotonic() < end and (sent < len(fragments) or len(seen) < len(fragments)):
            if sent < len(fragments) and time.monotonic() >= next_send:
                producer.send(fragments[sent])  # one 1-s fragment per second, like a camera
                sent += 1
                next_send += 1.0
            text = _get(playlist_url).text
            now = time.monotonic()
            uris = _uris(text)
            assert len(uris) <= 3
            sequences.append(int(re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text).group(1)))
            for uri in uris:
                seen.setdefault(parse_qs(urlsplit(uri).query)["FragmentNumber"][0], now)
            time.sleep(0.25)  # the session allows 5 media playlist requests per second
    finally:
        producer.close()
    assert len(producer.persisted) == len(fragments) == 5
    assert set(seen) == set(producer.persisted)
    for number, persisted_at in producer.persisted.items():
        if number == first:
            continue
        # Listed within one fragment duration (1 s) of its PERSISTED ACK.
        assert seen[number] - persisted_at < 1.0, (number, seen[number] - persisted_at)
    assert sequences == sorted(sequences) and sequences[-1] == 2  # the window slid over 5 fragments


# ------------------------------------------------------------ token errors
def test_token_errors(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    base = url.split("?")[0]
    assert _error(_get(base))[:2] == (400, "InvalidArgumentException")  # no token
    assert _error(_get(base + "?SessionToken=CiAnot-a-real-token~"))[:2] == (401, "NotAuthorizedException")
    playlist_url, text = _media_playlist(url)
    segment = urljoin(playlist_url, _uris(text)[0])
    # A token of another session type does not open these resources either.
    dash = kv.archived_media("cam").get_dash_streaming_session_url(StreamName="cam", PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER)
    token = parse_qs(urlsplit(dash["DASHStreamingSessionURL"]).query)["SessionToken"][0]
    assert _error(_get(base + f"?SessionToken={token}"))[:2] == (401, "NotAuthorizedException")
    # Resources of the wrong container format, unknown fragments.
    ts = re.sub(r"getMP4MediaFragment\.mp4", "getTSFragment.ts", segment)
    assert _error(_get(ts))[:2] == (400, "InvalidArgumentException")
    unknown = re.sub(r"FragmentNumber=\d+", "FragmentNumber=" + "9" * 47, segment)
    assert _error(_get(unknown))[:2] == (404, "ResourceNotFoundException")
    assert _error(_get(re.sub(r"FragmentNumber=\d+&", "", segment)))[:2] == (400, "InvalidArgumentException")
    assert _error(_get(playlist_url.replace("TrackNumber=1", "TrackNumber=7")))[:2] == (400, "InvalidArgumentException")
    assert _get(segment).status_code == 200


def test_expired_session(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER, Expires=300)
    playlist_url, text = _media_playlist(url)
    segment = urljoin(playlist_url, _uris(text)[0])
    _advance(kv, 290)
    assert _get(url).status_code == 200
    _advance(kv, 11)
    for resource in (url, playlist_url, segment):
        status, error_type, message = _error(_get(resource))
        assert (status, error_type) == (401, "NotAuthorizedException") and "expired" in message


def test_deleted_stream_serves_no_media(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    playlist_url, text = _media_playlist(url)
    arn = kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["StreamARN"]
    kv.kinesisvideo.delete_stream(StreamARN=arn)
    for resource in (url, playlist_url, urljoin(playlist_url, _uris(text)[0])):
        assert _error(_get(resource))[:2] == (404, "ResourceNotFoundException")
    # A new stream of the same name is another stream: the old token stays dead.
    _put(kv)
    assert _get(url).status_code == 404


def test_resources_are_throttled_per_session(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    statuses = [_get(url).status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5 and statuses[5] == 400
    assert _get(url).headers["x-amzn-ErrorType"] == "ClientLimitExceededException"


# --------------------------------------------------------------- validation
def _live_range():
    return {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 1}}


INVALID = [
    ({"PlaybackMode": "ON_DEMAND"}, "InvalidArgumentException"),
    ({"PlaybackMode": "LIVE_REPLAY"}, "InvalidArgumentException"),
    ({"PlaybackMode": "LIVE", "HLSFragmentSelector": PRODUCER}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {"StartTimestamp": START}}}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"TimestampRange": {"EndTimestamp": START}}}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {**PRODUCER, "TimestampRange": {"StartTimestamp": START + 5, "EndTimestamp": START}}}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {**PRODUCER, "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 86_401}}}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {"FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": {"StartTimestamp": 4_000_000_000, "EndTimestamp": 4_000_000_010}}}, "InvalidArgumentException"),
    ({"Expires": 299}, "InvalidArgumentException"),
    ({"Expires": 43_201}, "InvalidArgumentException"),
    ({"MaxMediaPlaylistFragmentResults": 0}, "InvalidArgumentException"),
    ({"MaxMediaPlaylistFragmentResults": 5001}, "InvalidArgumentException"),
    ({"ContainerFormat": "MP4"}, "InvalidArgumentException"),
    ({"DiscontinuityMode": "SOMETIMES"}, "InvalidArgumentException"),
    # No fragment in the range / for a session that starts now.
    ({"PlaybackMode": "ON_DEMAND", "HLSFragmentSelector": {**PRODUCER, "TimestampRange": {"StartTimestamp": START + 100, "EndTimestamp": START + 110}}}, "ResourceNotFoundException"),
    ({"PlaybackMode": "LIVE_REPLAY", "HLSFragmentSelector": _live_range()}, "ResourceNotFoundException"),
]


def test_invalid_requests(kvs):
    _put(kvs)
    for params, code in INVALID:
        assert _client_error(lambda: _session(kvs, **params))[0] == code, params


def test_stream_errors(kv):
    kv.kinesisvideo.create_stream(StreamName="quiet", DataRetentionInHours=1)
    code, status = _client_error(lambda: _session(kv, "quiet"))
    assert (code, status) == ("ResourceNotFoundException", 404)  # LIVE needs a fragment in the last 30 s
    _put(kv, "nodata", retention=0)
    assert _client_error(lambda: _session(kv, "nodata"))[0] == "NoDataRetentionException"
    client = _archive(kv, "quiet")
    assert _client_error(lambda: client.get_hls_streaming_session_url(StreamName="missing"))[0] == "ResourceNotFoundException"
    assert _client_error(lambda: client.get_hls_streaming_session_url())[0] == "InvalidArgumentException"


def test_live_needs_a_recent_fragment(kv):
    _put(kv)
    assert _session(kv)  # fragments from just now
    _advance(kv, 45)
    code, status = _client_error(lambda: _session(kv))
    assert (code, status) == ("ResourceNotFoundException", 404)


def _media_with(codec_id=None, codec_private=b"keep", codec="h264", audio=False):
    encoded = encode_sample(2, 1, 25, 160, 120, codec, audio)
    tracks = list(encoded.tracks)
    changes = {}
    if codec_id is not None:
        changes["codec_id"] = codec_id
    if codec_private != b"keep":
        changes["codec_private"] = codec_private
    tracks[0] = replace(tracks[0], **changes)
    return write_mkv(tracks, encoded.packets)


@pytest.mark.parametrize(
    "media, params, code",
    [
        (lambda: _media_with(codec_id="V_VP8"), {}, "UnsupportedStreamMediaTypeException"),
        (lambda: _media_with(codec_private=None), {}, "MissingCodecPrivateDataException"),
        (lambda: _media_with(codec_private=b"\x00\x01\x02"), {}, "InvalidCodecPrivateDataException"),
        (lambda: _media_with(codec="h265"), {"ContainerFormat": "MPEG_TS"}, "UnsupportedStreamMediaTypeException"),
    ],
)
def test_codec_requirements(kvs, media, params, code):
    _put(kvs, media=media())
    assert _client_error(lambda: _session(kvs, **params))[0] == code


def test_h265_plays_as_fmp4(kvs_server):
    _put(kvs_server, media=sample_mkv(duration_s=4, fragment_s=2, codec="h265", start=0))
    url = _session(kvs_server, PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    assert re.search(r'CODECS="hvc1\.[^"]+"', _get(url).text)
    with av.open(url, timeout=10) as c:
        assert sum(1 for _ in c.decode(video=0)) == 100
