"""DASH streaming sessions: the MPD and the fMP4 segments it addresses.

This FFmpeg build has no DASH demuxer, so the test plays the part of a
DASH client: it reads the MPD (SegmentTemplate + SegmentTimeline), fetches
the init segment and every media segment of each AdaptationSet, and lets
FFmpeg demux and decode what it fetched.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import av
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from kvsmock import clock, put_media, sample_mkv
from kvsmock.media.mp4.boxes import first_tfdt, split_boxes

START = 1_700_000_000
MEDIA = sample_mkv(duration_s=6, fragment_s=2, audio=True, start=0)  # RELATIVE; 3 fragments, 150 video frames
NS = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
KVS = "{https://kinesisvideo.amazonaws.com/dash/kvs}"
PRODUCER = {"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 200}}


@pytest.fixture(autouse=True)
def _wall_clock():
    yield
    clock.reset()


def _put(kv, name="cam", start=START, create=True, retention=1):
    if create:
        kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=retention)
    return put_media(
        name, media=MEDIA, endpoint_url=kv.endpoint_url, session=kv.session(), timecode_type="RELATIVE", producer_start_timestamp=start
    )


def _session(kv, name="cam", **params):
    params.setdefault("StreamName", name)
    clients = kv.__dict__.setdefault("_dash_clients", {})
    if name not in clients:
        endpoint = kv.data_endpoint(name, "GET_DASH_STREAMING_SESSION_URL")
        # No client-side checks: the service's own validation is under test.
        clients[name] = kv.client("kinesis-video-archived-media", endpoint_url=endpoint, config=Config(parameter_validation=False))
    return clients[name].get_dash_streaming_session_url(**params)["DASHStreamingSessionURL"]


def _advance(kv, seconds):
    if kv.endpoint_url:
        kv.advance_clock(seconds)
    else:
        clock.advance(seconds)


@dataclass
class Segment:
    number: int
    t: int
    d: int
    attrs: dict


@dataclass
class Track:
    content_type: str
    codecs: str
    init_url: str
    media_template: str
    start_number: int
    presentation_time_offset: int
    segments: list[Segment]

    def media_url(self, segment: Segment) -> str:
        return self.media_template.replace("$Number$", str(segment.number))


def _read_mpd(url: str) -> tuple[ET.Element, list[Track]]:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/dash+xml"
    root = ET.fromstring(response.content)
    tracks = []
    for adaptation in root.iterfind("mpd:Period/mpd:AdaptationSet", NS):
        representation = adaptation.find("mpd:Representation", NS)
        template = representation.find("mpd:SegmentTemplate", NS)
        number = int(template.get("startNumber", "1"))
        segments = []
        for s in template.iterfind("mpd:SegmentTimeline/mpd:S", NS):
            t, d = int(s.get("t")), int(s.get("d"))
            for _ in range(int(s.get("r", "0")) + 1):
                segments.append(Segment(number, t, d, dict(s.attrib)))
                number += 1
                t += d
        tracks.append(
            Track(
                adaptation.get("contentType"),
                representation.get("codecs"),
                urljoin(url, template.get("initialization")),
                urljoin(url, template.get("media")),
                int(template.get("startNumber", "1")),
                int(template.get("presentationTimeOffset", "0")),
                segments,
            )
        )
    return root, tracks


def _fetch(url: str) -> bytes:
    response = requests.get(url, timeout=10)
    assert response.status_code == 200, (url, response.text)
    return response.content


def _play(track: Track) -> tuple[int, list[float], list[bytes]]:
    init = _fetch(track.init_url)
    assert [b[0] for b in split_boxes(init)] == ["ftyp", "moov"]
    media = [_fetch(track.media_url(s)) for s in track.segments]
    with av.open(io.BytesIO(init + b"".join(media))) as container:
        times = [frame.time for frame in container.decode(container.streams[0])]
    return len(times), times, media


def _error(url):
    response = requests.get(url, timeout=10)
    return response.status_code, response.headers.get("x-amzn-ErrorType"), response.json().get("Message")


def test_on_demand_manifest_plays_every_frame(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER)
    base = kv.endpoint_url or r"https://b-[0-9a-f]{8}\.kinesisvideo\.us-east-1\.amazonaws\.com"
    assert re.match(base + r"/dash/v1/getDASHManifest\.mpd\?SessionToken=[\w~-]+$", url)
    root, tracks = _read_mpd(url)
    assert root.get("type") == "static" and root.get("mediaPresentationDuration").startswith("PT6.")
    assert [t.content_type for t in tracks] == ["video", "audio"]
    video, audio = tracks
    assert re.fullmatch(r"avc1\.[0-9a-f]{6}", video.codecs) and audio.codecs == "mp4a.40.2"
    assert len(video.segments) == 3 and video.start_number == 0
    count, times, media = _play(video)
    assert count == 150
    assert times == sorted(times) and times[0] == pytest.approx(START)
    # Each segment's tfdt is its S@t (ms) on the 90 kHz video timescale.
    for segment, body in zip(video.segments, media):
        moof = next(body[s:e] for kind, s, e in split_boxes(body) if kind == "moof")
        assert first_tfdt(moof) == segment.t * 90
    assert video.presentation_time_offset == video.segments[0].t
    audio_frames, _, _ = _play(audio)
    assert audio_frames > 250


def test_timeline_hides_gaps_and_shows_kvs_attributes(kvs):
    first = [a["FragmentNumber"] for a in _put(kvs) if a["EventType"] == "PERSISTED"]
    second = [a["FragmentNumber"] for a in _put(kvs, start=START + 100, create=False) if a["EventType"] == "PERSISTED"]
    url = _session(kvs, PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER, DisplayFragmentTimestamp="ALWAYS", DisplayFragmentNumber="ALWAYS")
    _, (video, _audio) = _read_mpd(url)
    segments = video.segments
    assert [s.attrs[f"{KVS}fn"] for s in segments] == first + second
    stamps = [int(s.attrs[f"{KVS}ts"]) for s in segments]
    assert stamps[3] - stamps[2] == 96_000  # the real timestamps keep the 94-s gap ...
    for a, b in zip(segments, segments[1:]):
        assert b.t == a.t + a.d  # ... the timeline does not
    count, times, _ = _play(video)
    assert count == 300 and times == sorted(times) and times[-1] - times[0] < 13


def test_timeline_folds_equal_durations_without_kvs_attributes(kvs):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    put_media("cam", media=sample_mkv(duration_s=6, fragment_s=2, start=0), timecode_type="RELATIVE", producer_start_timestamp=START)
    _, (video,) = _read_mpd(_session(kvs, PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER))
    assert len(video.segments) == 3
    assert len({s.attrs.get("t") for s in video.segments}) < 3  # S elements with r="…"
    assert _play(video)[0] == 150


def test_live_manifest_is_dynamic_and_slides(kvs):
    _put(kvs)
    url = _session(kvs, MaxManifestFragmentResults=2)
    root, (video, audio) = _read_mpd(url)
    assert root.get("type") == "dynamic"
    assert root.get("minimumUpdatePeriod") == "PT1S" and root.get("availabilityStartTime").endswith("Z")
    assert video.start_number == 1 and len(video.segments) == 2
    assert _play(video)[0] == 100
    _put(kvs, start=START + 6, create=False)
    _, (video, _audio) = _read_mpd(url)
    assert video.start_number == 4 and [s.number for s in video.segments] == [4, 5]
    assert video.presentation_time_offset < video.segments[0].t  # one timeline for the whole session
    assert _play(video)[0] == 100
    unknown = video.media_template.replace("$Number$", "999")
    assert _error(unknown)[:2] == (404, "ResourceNotFoundException")


def test_live_replay_turns_static_when_played_out(kvs):
    _put(kvs)
    url = _session(kvs, PlaybackMode="LIVE_REPLAY", DASHFragmentSelector=PRODUCER)
    root, (video, _audio) = _read_mpd(url)
    assert root.get("type") == "dynamic" and len(video.segments) == 1
    clock.advance(7)
    root, (video, _audio) = _read_mpd(url)
    assert root.get("type") == "static" and len(video.segments) == 3
    assert _play(video)[0] == 150


def test_token_expiry_and_deleted_stream(kv):
    _put(kv)
    url = _session(kv, PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER, Expires=600)
    _, (video, _audio) = _read_mpd(url)
    segment = video.media_url(video.segments[0])
    base = url.split("?")[0]
    assert _error(base)[:2] == (400, "InvalidArgumentException")
    assert _error(base + "?SessionToken=CiAforged~")[:2] == (401, "NotAuthorizedException")
    hls = kv.archived_media("cam").get_hls_streaming_session_url(StreamName="cam", PlaybackMode="ON_DEMAND", HLSFragmentSelector=PRODUCER)
    token = parse_qs(urlsplit(hls["HLSStreamingSessionURL"]).query)["SessionToken"][0]
    assert _error(base + f"?SessionToken={token}")[:2] == (401, "NotAuthorizedException")
    _advance(kv, 601)
    for resource in (url, video.init_url, segment):
        status, error_type, message = _error(resource)
        assert (status, error_type) == (401, "NotAuthorizedException") and "expired" in message

    url = _session(kv, PlaybackMode="ON_DEMAND", DASHFragmentSelector=PRODUCER)
    _, (video, _audio) = _read_mpd(url)
    arn = kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["StreamARN"]
    kv.kinesisvideo.delete_stream(StreamARN=arn)
    for resource in (url, video.init_url, video.media_url(video.segments[0])):
        assert _error(resource)[:2] == (404, "ResourceNotFoundException")


INVALID = [
    ({"PlaybackMode": "ON_DEMAND"}, "InvalidArgumentException"),
    ({"PlaybackMode": "LIVE_REPLAY"}, "InvalidArgumentException"),
    ({"PlaybackMode": "LIVE", "DASHFragmentSelector": PRODUCER}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "DASHFragmentSelector": {**PRODUCER, "TimestampRange": {"StartTimestamp": START}}}, "InvalidArgumentException"),
    ({"MaxManifestFragmentResults": 5001}, "InvalidArgumentException"),
    ({"Expires": 100}, "InvalidArgumentException"),
    ({"DisplayFragmentNumber": "SOMETIMES"}, "InvalidArgumentException"),
    ({"PlaybackMode": "ON_DEMAND", "DASHFragmentSelector": {**PRODUCER, "TimestampRange": {"StartTimestamp": START + 500, "EndTimestamp": START + 501}}}, "ResourceNotFoundException"),
]


def test_invalid_requests(kvs):
    _put(kvs)
    for params, code in INVALID:
        with pytest.raises(ClientError) as err:
            _session(kvs, **params)
        assert err.value.response["Error"]["Code"] == code, params


def test_no_retention_and_no_recent_fragments(kv):
    _put(kv, "nodata", retention=0)
    with pytest.raises(ClientError) as err:
        _session(kv, "nodata")
    assert err.value.response["Error"]["Code"] == "NoDataRetentionException"
    _put(kv)
    _advance(kv, 60)
    with pytest.raises(ClientError) as err:
        _session(kv)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
