"""GetClip through boto3, in-process and against the server: MP4 out, the right fragments in it."""

import datetime as dt
import io
import struct

import av
import freezegun
import numpy as np
import pytest
import requests
from botocore.exceptions import ClientError

import kvsmock
from kvsmock import put_media, sample_mkv
from kvsmock.media import ebml
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, split_fragments, write_mkv
from kvsmock.media.sample import encode_sample

START = 1_700_000_000
FPS = 25
MEDIA = sample_mkv(duration_s=6, fragment_s=2, audio=True, start=0)  # RELATIVE; fragments at +0, +2, +4 s
FROZEN_AT = "2024-05-01T12:00:00Z"


# ---------------------------------------------------------------- helpers
def _put(kv, name, media, **kw):
    kw.setdefault("timecode_type", "RELATIVE")
    kw.setdefault("producer_start_timestamp", START)
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(), **kw)


def _stream(kv, name="cam", retention=1):
    return kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=retention)["StreamARN"]


def _clip(kv, name, start, end, selector="PRODUCER_TIMESTAMP", **kw):
    out = kv.archived_media(name, "GET_CLIP").get_clip(
        StreamName=name,
        ClipFragmentSelector={
            "FragmentSelectorType": selector,
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
        },
        **kw,
    )
    assert out["ContentType"] == "video/mp4"
    return out["Payload"].read()


def _error(excinfo):
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def frame_index(rgb: np.ndarray) -> int:
    """The frame number the sample draws as 16 black/white blocks along the top."""
    height, width = rgb.shape[:2]
    block, bar = max(2, width // 16), max(2, height // 12)
    bits = [int(rgb[bar // 2, b * block + block // 2].mean() > 128) for b in range(16)]
    return int("".join(map(str, bits)), 2)


def probe(mp4: bytes) -> dict:
    """What a player sees in the clip: container, streams, duration, and the sample's frame numbers."""
    top = []
    pos = 0
    while pos + 8 <= len(mp4):
        size = int.from_bytes(mp4[pos : pos + 4], "big")
        top.append(mp4[pos + 4 : pos + 8].decode())
        pos += size
    with av.open(io.BytesIO(mp4)) as container:
        video = container.streams.video[0]
        info = {
            "boxes": top,
            "brand": mp4[8:12],
            "duration": container.duration / 1e6,
            "video": video.codec_context.name,
            "size": (video.width, video.height),
            "audio": [s.codec_context.name for s in container.streams.audio],
            "audio_packets": sum(s.frames for s in container.streams.audio),
        }
        frames = list(container.decode(video=0))
        info["frames"] = [frame_index(f.to_ndarray(format="rgb24")) for f in frames]
        info["times"] = [float(f.time) for f in frames]
    return info


def fragment_bodies(seconds=6, audio=False, start_ms=START * 1000):
    """One ABSOLUTE-timecode PutMedia body per 2-second fragment."""
    media = encode_sample(float(seconds), 2.0, FPS, 320, 240, "h264", audio)
    return [write_mkv(media.tracks, frag, start_ms=start_ms) for frag in split_fragments(media.packets)]


@pytest.fixture
def advance(kv):
    """Moves kvsmock's clock: freezegun in-process, the server's clock endpoint against the server."""
    if kv.endpoint_url:
        yield kv.advance_clock
    else:
        with freezegun.freeze_time(FROZEN_AT) as frozen:
            yield lambda seconds: frozen.tick(dt.timedelta(seconds=seconds))


# ---------------------------------------------------------------- clips
def test_producer_timestamp_clip_holds_exactly_the_fragments_in_range(kv):
    arn = _stream(kv)
    _put(kv, "cam", MEDIA)
    # Start 1 s: the fragment at 0 s straddles it and stays out; End 4 s is inclusive on fragment start.
    mp4 = _clip(kv, "cam", START + 1, START + 4)
    info = probe(mp4)
    assert info["frames"] == list(range(50, 150))  # 2 fragments x 50 frames, every frame once, in order
    assert info["video"] == "h264" and info["size"] == (320, 240)
    assert info["audio"] == ["aac"] and info["audio_packets"] > 150  # 4 s of 48 kHz AAC (1024 / packet)
    assert info["duration"] == pytest.approx(4.0, abs=0.05)
    assert info["times"][0] == 0 and info["times"][-1] == pytest.approx(3.96)
    # a regular MP4: ftyp, moov before mdat, no movie fragments
    assert info["boxes"][0] == "ftyp" and "moof" not in info["boxes"]
    assert info["boxes"].index("moov") < info["boxes"].index("mdat")

    # End 3 s leaves out the fragment starting at 4 s; the whole range gives all three.
    shorter = _clip(kv, "cam", START + 1, START + 3)
    assert probe(shorter)["frames"] == list(range(50, 100))
    whole = kv.archived_media("cam", "GET_CLIP").get_clip(
        StreamARN=arn,
        ClipFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 60},
        },
    )["Payload"].read()
    assert probe(whole)["frames"] == list(range(150))
    # clips count as data consumed
    if kv.endpoint_url:
        report = requests.get(f"{kv.endpoint_url}/_kvsmock/usage", timeout=10).json()
    else:
        report = kvsmock.usage()
    (usage,) = [s for s in report["Streams"] if s["StreamName"] == "cam"]
    assert usage["ConsumedBytes"] == len(mp4) + len(shorter) + len(whole)


def test_server_timestamp_clip(kv, advance):
    _stream(kv)
    for body in fragment_bodies(6):
        _put(kv, "cam", body, timecode_type="ABSOLUTE", producer_start_timestamp=None)
        advance(10)
    fragments = kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    server = sorted(f["ServerTimestamp"].timestamp() for f in fragments)
    assert server[1] - server[0] >= 9.9  # the fragments arrived 10 s apart
    # botocore sends whole seconds: floor(start) still has fragment 1 as the first at/after it.
    mp4 = _clip(kv, "cam", int(server[1]), int(server[2]) + 1, "SERVER_TIMESTAMP")
    info = probe(mp4)
    assert info["frames"] == list(range(50, 150))
    # the clip follows the producer timeline: 4 s, not 10 s apart
    assert info["duration"] == pytest.approx(4.0, abs=0.05)

    # SERVER_TIMESTAMP: EndTimestamp must be in the past
    with pytest.raises(ClientError) as err:
        _clip(kv, "cam", int(server[0]), int(server[2]) + 3600, "SERVER_TIMESTAMP")
    assert _error(err) == ("InvalidArgumentException", 400)


def test_clip_over_sessions_with_their_own_timecodes(kv):
    """Two RELATIVE sessions both counting from 0: each fragment goes where its producer timestamp says."""
    _stream(kv)
    media = sample_mkv(duration_s=4, fragment_s=2, start=0)
    _put(kv, "cam", media, producer_start_timestamp=START)
    _put(kv, "cam", media, producer_start_timestamp=START + 10)
    info = probe(_clip(kv, "cam", START, START + 20))
    assert info["frames"] == list(range(100)) * 2
    assert info["times"][100] == pytest.approx(10.0)  # the 6 s gap in the producer timeline is kept
    assert info["duration"] == pytest.approx(14.0, abs=0.05)


def test_duplicate_producer_timestamps_use_the_oldest_ingested(kv):
    _stream(kv)
    _put(kv, "cam", sample_mkv(duration_s=4, fragment_s=2, start=0))
    _put(kv, "cam", sample_mkv(duration_s=4, fragment_s=2, width=160, height=120, start=0))  # same times, ingested later
    assert len(kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]) == 4
    info = probe(_clip(kv, "cam", START, START + 10))
    assert info["size"] == (320, 240) and info["frames"] == list(range(100))


def test_h265_clip(kv):
    _stream(kv)
    _put(kv, "cam", sample_mkv(duration_s=4, fragment_s=2, codec="h265", start=0))
    info = probe(_clip(kv, "cam", START, START + 10))
    assert info["video"] == "hevc" and info["frames"] == list(range(100))
    assert info["audio"] == []


def test_g711_audio_is_kept(kv):
    """A_MS/ACM (G.711 mu-law) on track 2: the ISO MP4 muxer cannot hold it, so the clip is QuickTime-flavoured."""
    media = encode_sample(4.0, 2.0, FPS, 320, 240, "h264", False)
    wave = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)
    tracks = [media.tracks[0], TrackSpec(2, "A_MS/ACM", ebml.TRACK_TYPE_AUDIO, wave, sampling_rate=8000.0, channels=1)]
    audio = [Packet(2, i * 20, True, bytes([0xFF]) * 160) for i in range(200)]
    _stream(kv)
    _put(kv, "cam", write_mkv(tracks, list(media.packets) + audio))
    mp4 = _clip(kv, "cam", START, START + 10)
    info = probe(mp4)
    assert info["audio"] == ["pcm_mulaw"] and info["frames"] == list(range(100))
    assert info["brand"] == b"qt  "


def test_clip_is_capped_at_200_fragments(kv):
    _stream(kv)
    # 205 one-second fragments of two tiny frames each
    _put(kv, "cam", sample_mkv(duration_s=205, fragment_s=1, fps=2, width=64, height=48, start=0))
    assert len(kv.archived_media("cam").list_fragments(StreamName="cam", MaxResults=1000)["Fragments"]) == 205
    mp4 = _clip(kv, "cam", START, START + 300)
    with av.open(io.BytesIO(mp4)) as container:
        assert container.streams.video[0].frames == 400
        assert container.duration / 1e6 == pytest.approx(200, abs=0.6)
    # the cap keeps the first 200 from the start of the range
    mp4 = _clip(kv, "cam", START + 5, START + 300)
    with av.open(io.BytesIO(mp4)) as container:
        assert container.streams.video[0].frames == 400


def test_clip_is_capped_at_100_mb(kvs, monkeypatch):
    from kvsmock.api import clip_images

    _stream(kvs)
    _put(kvs, "cam", MEDIA)
    sizes = sorted((f["FragmentNumber"], f["FragmentSizeInBytes"]) for f in kvs.archived_media("cam").list_fragments(StreamName="cam")["Fragments"])
    monkeypatch.setattr(clip_images, "MAX_CLIP_BYTES", sizes[0][1] + sizes[1][1])
    assert probe(_clip(kvs, "cam", START, START + 10))["frames"] == list(range(100))


# ---------------------------------------------------------------- errors
def test_clip_request_errors(kv):
    _stream(kv, "other")
    with pytest.raises(ClientError) as err:
        kv.archived_media("other", "GET_CLIP").get_clip(
            StreamName="nope",
            ClipFragmentSelector={
                "FragmentSelectorType": "PRODUCER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": START, "EndTimestamp": START + 1},
            },
        )
    assert _error(err) == ("ResourceNotFoundException", 404)

    _stream(kv)
    _put(kv, "cam", MEDIA)
    cases = [
        (START + 100, START + 200, ("ResourceNotFoundException", 404)),  # no fragment in range
        (START + 1, START + 1, ("InvalidArgumentException", 400)),  # End must be later than Start
        (START + 4, START, ("InvalidArgumentException", 400)),
        (START, START + 24 * 3600 + 1, ("InvalidArgumentException", 400)),  # more than 24 h
    ]
    for start, end, expected in cases:
        with pytest.raises(ClientError) as err:
            _clip(kv, "cam", start, end)
        assert _error(err) == expected, (start - START, end - START)
    assert probe(_clip(kv, "cam", START, START + 24 * 3600))["frames"] == list(range(150))


def test_no_data_retention(kv):
    _stream(kv, retention=0)
    _put(kv, "cam", MEDIA)
    with pytest.raises(ClientError) as err:
        _clip(kv, "cam", START, START + 10)
    assert _error(err) == ("NoDataRetentionException", 400)


def _h264():
    return encode_sample(4.0, 2.0, FPS, 160, 120, "h264", True)


def _unsupported_video():
    return write_mkv([TrackSpec(1, "V_VP8", ebml.TRACK_TYPE_VIDEO, None, width=64, height=48)],
                     [Packet(1, i * 40, i % 50 == 0, b"\x10" * 64) for i in range(100)])


def _unsupported_audio():
    media = _h264()
    opus = TrackSpec(2, "A_OPUS", ebml.TRACK_TYPE_AUDIO, b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0", sampling_rate=48000.0, channels=1)
    return write_mkv([media.tracks[0], opus], [p for p in media.packets if p.track == 1] + [Packet(2, t, True, b"\xfc\xff\xfe") for t in range(0, 4000, 20)])


def _audio_only():
    media = _h264()
    audio = media.tracks[1]
    track = TrackSpec(1, "A_AAC", ebml.TRACK_TYPE_AUDIO, audio.codec_private, sampling_rate=48000.0, channels=1)
    return write_mkv([track], [Packet(1, p.time_ms, True, p.data) for p in media.packets if p.track == 2])


def _video_cpd(cpd):
    media = _h264()
    video = media.tracks[0]
    track = TrackSpec(1, video.codec_id, video.type, cpd, width=160, height=120, default_duration=video.default_duration)
    return write_mkv([track], [p for p in media.packets if p.track == 1])


def _audio_cpd(cpd):
    media = _h264()
    audio = media.tracks[1]
    track = TrackSpec(2, "A_AAC", audio.type, cpd, sampling_rate=48000.0, channels=1)
    return write_mkv([media.tracks[0], track], list(media.packets))


def _annex_b_frames():
    media = _h264()
    frames = [Packet(1, p.time_ms, p.keyframe, b"\x00\x00\x00\x01\x65\x88\x84\x00\x33\xff") for p in media.packets if p.track == 1]
    return write_mkv([media.tracks[0]], frames)


@pytest.mark.parametrize(
    "make, expected",
    [
        (_unsupported_video, "UnsupportedStreamMediaTypeException"),
        (_unsupported_audio, "UnsupportedStreamMediaTypeException"),
        (_audio_only, "UnsupportedStreamMediaTypeException"),
        (lambda: _video_cpd(None), "MissingCodecPrivateDataException"),
        (lambda: _video_cpd(b"\x00\x00\x00\x01\x67\x42\xc0\x1e\xd9\x00\x00\x00\x01\x68\xcb\x83\xcb\x20"), "InvalidCodecPrivateDataException"),
        (lambda: _audio_cpd(b"\x07\xf8"), "InvalidCodecPrivateDataException"),  # audio object type 0
        (_annex_b_frames, "InvalidMediaFrameException"),
    ],
    ids=["vp8-video", "opus-audio", "audio-only", "no-cpd", "annex-b-cpd", "bad-aac-cpd", "annex-b-frames"],
)
def test_media_errors(kv, make, expected):
    _stream(kv)
    acks = _put(kv, "cam", make())
    assert acks and all(a["EventType"] != "ERROR" for a in acks)
    with pytest.raises(ClientError) as err:
        _clip(kv, "cam", START, START + 10)
    assert _error(err) == (expected, 400)
