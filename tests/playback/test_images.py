"""GetImages through boto3, in-process and against the server: real JPEG/PNG stills of the right frames."""

import base64
import datetime as dt
import functools
import io

import av
import freezegun
import numpy as np
import pytest
from botocore.exceptions import ClientError

from kvsmock import put_media, sample_mkv
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, split_fragments, write_mkv
from kvsmock.media.sample import encode_sample

START = 1_700_000_000
FPS = 25
MEDIA = sample_mkv(duration_s=6, fragment_s=2, start=0)  # RELATIVE; 150 frames, fragments at +0, +2, +4 s
FROZEN_AT = "2024-05-01T12:00:00Z"


# ---------------------------------------------------------------- helpers
def _put(kv, name, media=MEDIA, **kw):
    kw.setdefault("timecode_type", "RELATIVE")
    kw.setdefault("producer_start_timestamp", START)
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(), **kw)


def _stream(kv, name="cam", retention=1, media=MEDIA, **kw):
    kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=retention)
    if media is not None:
        _put(kv, name, media, **kw)
    return kv.archived_media(name, "GET_IMAGES")


def _images(client, start, end, interval=1000, fmt="JPEG", selector="PRODUCER_TIMESTAMP", name="cam", **kw):
    return client.get_images(
        StreamName=name,
        ImageSelectorType=selector,
        StartTimestamp=start,
        EndTimestamp=end,
        SamplingInterval=interval,
        Format=fmt,
        **kw,
    )


def _error(excinfo):
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def decode(content: str) -> av.VideoFrame:
    with av.open(io.BytesIO(base64.b64decode(content))) as container:
        return next(container.decode(video=0))


@functools.cache
def source_frames() -> tuple:
    """The sample's frames as a decoder sees them (what images must show)."""
    with av.open(io.BytesIO(MEDIA)) as container:
        return tuple(container.decode(video=0))


def frame_index(rgb: np.ndarray) -> int:
    """The frame number the sample draws as 16 black/white blocks along the top (320x240 layout)."""
    height, width = rgb.shape[:2]
    block, bar = width / 16, height / 12
    bits = [int(rgb[int(bar / 2), int(b * block + block / 2)].mean() > 128) for b in range(16)]
    return int("".join(map(str, bits)), 2)


def rgb(frame, width=None, height=None) -> np.ndarray:
    return frame.reformat(width=width or frame.width, height=height or frame.height, format="rgb24").to_ndarray().astype(int)


def stamps(images) -> list[float]:
    return [round(i["TimeStamp"].timestamp() - START, 3) for i in images]


@pytest.fixture
def advance(kv):
    """Moves kvsmock's clock: freezegun in-process, the server's clock endpoint against the server."""
    if kv.endpoint_url:
        yield kv.advance_clock
    else:
        with freezegun.freeze_time(FROZEN_AT) as frozen:
            yield lambda seconds: frozen.tick(dt.timedelta(seconds=seconds))


# ---------------------------------------------------------------- content
def test_jpeg_images_show_the_frame_at_or_before_each_instant(kv):
    client = _stream(kv)
    images = _images(client, START, START + 5, interval=700)["Images"]
    assert stamps(images) == [0, 0.7, 1.4, 2.1, 2.8, 3.5, 4.2, 4.9]
    for image in images:
        assert "Error" not in image
        data = base64.b64decode(image["ImageContent"])
        assert data[:3] == b"\xff\xd8\xff"  # JPEG SOI
        frame = decode(image["ImageContent"])
        assert (frame.width, frame.height) == (320, 240)
        offset_ms = round((image["TimeStamp"].timestamp() - START) * 1000)
        expected = offset_ms // 40  # 25 fps: the last frame shown at or before the instant
        picture = rgb(frame)
        assert frame_index(picture) == expected
        # and the whole picture is that decoded frame (JPEG loss aside), not a neighbour
        diffs = [np.abs(picture - rgb(source_frames()[k])).mean() for k in (expected - 1, expected, expected + 1) if 0 <= k < 150]
        assert np.abs(picture - rgb(source_frames()[expected])).mean() == min(diffs) < 6


def test_png_stretched_to_both_dimensions(kv):
    client = _stream(kv)
    images = _images(client, START + 3, START + 3, fmt="PNG", WidthPixels=200, HeightPixels=100)["Images"]
    assert len(images) == 1 and "NextToken" not in images
    data = base64.b64decode(images[0]["ImageContent"])
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    frame = decode(images[0]["ImageContent"])
    assert (frame.width, frame.height) == (200, 100)
    # PNG is lossless: the same decoded frame scaled the same way
    assert np.abs(rgb(frame) - rgb(source_frames()[75], 200, 100)).mean() < 1.5


def test_one_dimension_keeps_the_aspect_ratio(kv):
    client = _stream(kv)
    by_width = _images(client, START + 1, START + 1, WidthPixels=160)["Images"][0]
    assert (decode(by_width["ImageContent"]).width, decode(by_width["ImageContent"]).height) == (160, 120)
    frame = decode(_images(client, START + 1, START + 1, HeightPixels=60)["Images"][0]["ImageContent"])
    assert (frame.width, frame.height) == (80, 60)
    frame = decode(_images(client, START + 1, START + 1, WidthPixels=640)["Images"][0]["ImageContent"])
    assert (frame.width, frame.height) == (640, 480)
    assert frame_index(rgb(frame)) == 25


def test_jpeg_quality(kv):
    client = _stream(kv)
    sizes = {}
    for quality in ("5", "50", "100"):
        image = _images(client, START + 2, START + 2, FormatConfig={"JPEGQuality": quality})["Images"][0]
        sizes[quality] = len(base64.b64decode(image["ImageContent"]))
        assert frame_index(rgb(decode(image["ImageContent"]))) == 50
    assert sizes["5"] < sizes["50"] < sizes["100"]


def test_no_media_where_there_is_none(kv):
    client = _stream(kv)
    _put(kv, "cam", MEDIA, producer_start_timestamp=START + 10)  # a second session: media at 10-16 s
    images = _images(client, START - 4, START + 20, interval=2000, MaxResults=25)["Images"]
    assert stamps(images) == list(range(-4, 21, 2))
    got = {s: ("ImageContent" in i, i.get("Error")) for s, i in zip(stamps(images), images)}
    with_media = {0, 2, 4, 10, 12, 14}
    for s, (has_image, error) in got.items():
        assert (has_image, error) == ((True, None) if s in with_media else (False, "NO_MEDIA")), s


def test_range_shorter_than_the_interval_gives_the_start_image(kv):
    client = _stream(kv)
    images = _images(client, START + 1, START + 2, interval=5000)["Images"]
    assert stamps(images) == [1] and frame_index(rgb(decode(images[0]["ImageContent"]))) == 25


def test_media_error_for_audio_only_media(kv):
    encoded = encode_sample(4.0, 2.0, FPS, 160, 120, "h264", True)
    audio = encoded.tracks[1]
    track = TrackSpec(1, "A_AAC", audio.type, audio.codec_private, sampling_rate=48000.0, channels=1)
    packets = [p for p in encoded.packets if p.track == 2]
    # a "keyframe" opening each 2 s, so that the audio comes in 2 s fragments
    keys = {min(packets, key=lambda p: abs(p.time_ms - s)).time_ms for s in (0, 2000)}
    media = write_mkv([track], [Packet(1, p.time_ms, p.time_ms in keys, p.data) for p in packets])
    client = _stream(kv, media=media)
    images = _images(client, START, START + 6, interval=1500)["Images"]
    assert [i.get("Error") for i in images] == ["MEDIA_ERROR"] * 3 + ["NO_MEDIA"] * 2
    assert not any("ImageContent" in i for i in images)


def test_media_error_where_frames_do_not_decode(kv):
    encoded = encode_sample(4.0, 2.0, FPS, 160, 120, "h264", False)
    broken = [Packet(1, p.time_ms, p.keyframe, b"\x00\x00\x00\x05\x65\x88\x84\x00\x33") for p in encoded.packets]
    client = _stream(kv, media=write_mkv([encoded.tracks[0]], broken))
    images = _images(client, START, START + 5, interval=1000)["Images"]
    assert [i.get("Error") for i in images] == ["MEDIA_ERROR"] * 4 + ["NO_MEDIA"] * 2


def test_server_timestamp_images(kv, advance):
    client = _stream(kv, media=None)
    encoded = encode_sample(6.0, 2.0, FPS, 320, 240, "h264", False)
    for body in (write_mkv(encoded.tracks, f, start_ms=START * 1000) for f in split_fragments(encoded.packets)):
        _put(kv, "cam", body, timecode_type="ABSOLUTE", producer_start_timestamp=None)
        advance(10)
    listed = client.list_fragments(StreamName="cam")["Fragments"]
    server = sorted(round(f["ServerTimestamp"].timestamp() * 1000) for f in listed)
    with_content = 0
    for fragment, start in enumerate(server):  # the fragments arrived about 10 s apart
        first = start // 1000
        images = client.get_images(
            StreamName="cam", ImageSelectorType="SERVER_TIMESTAMP", StartTimestamp=first, EndTimestamp=first + 3,
            SamplingInterval=500, Format="JPEG", WidthPixels=320,
        )["Images"]
        assert len(images) == 7
        for image in images:
            offset = round(image["TimeStamp"].timestamp() * 1000) - start
            if not 0 <= offset < 2000:
                assert image.get("Error") == "NO_MEDIA" and "ImageContent" not in image
                continue
            with_content += 1
            assert frame_index(rgb(decode(image["ImageContent"]))) == fragment * 50 + offset // 40
    assert with_content >= 3 * 4  # each 2 s fragment holds at least 4 of the 500 ms instants


# ---------------------------------------------------------------- pagination
def test_pagination(kv):
    client = _stream(kv)
    small = {"WidthPixels": 32, "HeightPixels": 24}
    every = [round(0.2 * k, 1) for k in range(31)]  # 0 to 6 s every 200 ms: 31 instants

    first = _images(client, START, START + 6, interval=200, **small)
    assert stamps(first["Images"]) == every[:25]  # the default page holds 25
    second = _images(client, START, START + 6, interval=200, NextToken=first["NextToken"], **small)
    assert stamps(second["Images"]) == every[25:] and "NextToken" not in second

    big = _images(client, START, START + 6, interval=200, MaxResults=100, **small)
    assert len(big["Images"]) == 25 and big["NextToken"]  # pages never hold more than 25

    pages = list(
        client.get_paginator("get_images").paginate(
            StreamName="cam", ImageSelectorType="PRODUCER_TIMESTAMP", StartTimestamp=START, EndTimestamp=START + 6,
            SamplingInterval=200, Format="PNG", PaginationConfig={"PageSize": 10}, **small,
        )
    )
    assert [len(p["Images"]) for p in pages] == [10, 10, 10, 1]
    assert [s for p in pages for s in stamps(p["Images"])] == every
    # media from 0 to 6 s (6 s itself is past the last fragment)
    assert ["ImageContent" in i for p in pages for i in p["Images"]] == [True] * 30 + [False]

    # a token belongs to its request
    with pytest.raises(ClientError) as err:
        _images(client, START + 1, START + 6, interval=200, NextToken=first["NextToken"])
    assert _error(err) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as err:
        _images(client, START, START + 6, interval=200, NextToken="bm90IGEgdG9rZW4=")
    assert _error(err) == ("InvalidArgumentException", 400)


def test_each_fragment_is_decoded_once_per_page(kvs, monkeypatch):
    from kvsmock.service import stills

    calls = []
    real = stills.frames_at

    def counting(mkv, times, index=0, **kwargs):
        calls.append(len(times))
        return real(mkv, times, index, **kwargs)

    monkeypatch.setattr(stills, "frames_at", counting)
    client = _stream(kvs)
    images = _images(client, START, START + 6, interval=200, WidthPixels=32, HeightPixels=24)["Images"]
    assert len(images) == 25 and all("ImageContent" in i for i in images)
    assert calls == [10, 10, 5]


# ---------------------------------------------------------------- errors
def test_request_bounds(kv):
    client = _stream(kv)
    bad = [
        {"EndTimestamp": START - 1},  # End before Start
        {"EndTimestamp": START + 301},  # range over 300 s
        {"SamplingInterval": 199},  # under 200 ms
        {"FormatConfig": {"JPEGQuality": "0"}},
        {"FormatConfig": {"JPEGQuality": "101"}},
        {"FormatConfig": {"JPEGQuality": "best"}},
        {"WidthPixels": 3841},
        {"HeightPixels": 2161},
        {"MaxResults": 101},
    ]
    for change in bad:
        request = {"start": START, "end": START + 6, "interval": 1000}
        if "EndTimestamp" in change:
            request["end"] = change.pop("EndTimestamp")
        if "SamplingInterval" in change:
            request["interval"] = change.pop("SamplingInterval")
        with pytest.raises(ClientError) as err:
            _images(client, **request, **change)
        assert _error(err) == ("InvalidArgumentException", 400), change
    # the edges are fine
    ok = _images(client, START, START + 300, interval=200, MaxResults=1, WidthPixels=3840, HeightPixels=2160,
                 FormatConfig={"JPEGQuality": "100"})
    assert len(ok["Images"]) == 1 and ok["NextToken"]


def test_no_retention_and_missing_stream(kv):
    client = _stream(kv, retention=0)
    with pytest.raises(ClientError) as err:
        _images(client, START, START + 6)
    assert _error(err) == ("NoDataRetentionException", 400)
    with pytest.raises(ClientError) as err:
        _images(client, START, START + 6, name="nope")
    assert _error(err) == ("ResourceNotFoundException", 404)
