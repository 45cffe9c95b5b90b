"""sample_mkv and the committed fixtures: real media that PyAV decodes and the fragmenter accepts."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import av
import pytest
from freezegun import freeze_time

from kvsmock import clock

from kvsmock.media import read_fragments
from kvsmock.media.put_media import FragmentComplete, Fragmenter, HeaderParsed, MediaError
from kvsmock.media.sample import sample_mkv

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def decode_counts(data: bytes) -> dict[str, int]:
    counts = {"video": 0, "audio": 0}
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(*container.streams):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
    return counts


def ingest(data: bytes):
    fragmenter = Fragmenter()
    events = fragmenter.feed(data) + fragmenter.close()
    assert not [e for e in events if isinstance(e, MediaError)]
    header = events[0]
    assert isinstance(header, HeaderParsed)
    return header, [e.fragment for e in events if isinstance(e, FragmentComplete)]


def test_default_sample():
    with freeze_time("2026-03-01 12:00:00.250"):
        data = sample_mkv()
    assert decode_counts(data) == {"video": 250, "audio": 0}
    header, fragments = ingest(data)
    assert [t.codec_id for t in header.tracks] == ["V_MPEG4/ISO/AVC"]
    assert header.tracks[0].codec_private[0] == 1  # avcC, not Annex B
    # ABSOLUTE timecodes from the kvsmock clock's "now", as put_media() expects by default
    now_ms = 1772366400250
    assert [f.timecode for f in fragments] == [now_ms + i * 2000 for i in range(5)]
    assert all(f.keyframe and f.frame_count == 50 and f.duration == 2000 for f in fragments)
    # only the first frame of each fragment is a keyframe
    for read in read_fragments(data):
        assert [f.keyframe for f in read.frames] == [True] + [False] * 49


def test_sample_with_audio():
    data = sample_mkv(duration_s=4, fragment_s=1, audio=True)
    counts = decode_counts(data)
    assert counts["video"] == 100 and counts["audio"] > 180
    header, fragments = ingest(data)
    assert [t.codec_id for t in header.tracks] == ["V_MPEG4/ISO/AVC", "A_AAC"]
    assert header.tracks[1].sampling_rate == 48000 and header.tracks[1].channels == 1
    assert len(fragments) == 4 and all(f.track_numbers == {1, 2} for f in fragments)


def test_sample_h265():
    data = sample_mkv(duration_s=2, fragment_s=1, codec="h265", width=160, height=128)
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    assert decode_counts(data)["video"] == 50
    header, fragments = ingest(data)
    assert header.tracks[0].codec_id == "V_MPEGH/ISO/HEVC"
    assert header.tracks[0].width == 160
    assert len(fragments) == 2 and all(f.keyframe for f in fragments)


def test_absolute_start():
    start = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)
    _, fragments = ingest(sample_mkv(duration_s=4, start=start))
    assert [f.timecode for f in fragments] == [1714564800000, 1714564802000]
    _, naive = ingest(sample_mkv(duration_s=4, start=start.replace(tzinfo=None)))  # naive means UTC
    assert [f.timecode for f in naive] == [1714564800000, 1714564802000]


def test_default_start_follows_the_kvsmock_clock():
    moved = clock.advance(3600)
    try:
        _, fragments = ingest(sample_mkv(duration_s=2, fragment_s=2))
    finally:
        clock.reset()
    assert abs(fragments[0].timecode - moved * 1000) < 60_000  # within a minute of the moved clock


@pytest.mark.parametrize("start", [0, 0.0])
def test_start_zero_gives_relative_timecodes(start):
    _, fragments = ingest(sample_mkv(duration_s=4, fragment_s=2, start=start))
    assert [f.timecode for f in fragments] == [0, 2000]


def test_start_in_epoch_seconds():
    _, fragments = ingest(sample_mkv(duration_s=2, fragment_s=2, start=1_700_000_000.5))
    assert [f.timecode for f in fragments] == [1_700_000_000_500]


def test_unknown_codec():
    with pytest.raises(ValueError):
        sample_mkv(codec="vp9")


EXPECTED_FIXTURES = {
    # name: (fragments, video frames per fragment, tracks)
    "h264_6s.mkv": (3, 50, 1),
    "h264_aac_6s.mkv": (3, 50, 2),
    "h265_4s.mkv": (2, 50, 1),
    "h264_short_fragments.mkv": (6, 12, 1),
    "h264_long_fragments.mkv": (2, 150, 1),
    "h264_absolute.mkv": (2, 50, 1),
    "h264_aac_sdk_style.mkv": (2, 50, 2),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_FIXTURES))
def test_fixture(name):
    path = FIXTURES / name
    if not path.is_file():
        pytest.skip("fixtures not generated (python scripts/make_fixtures.py)")
    data = path.read_bytes()
    assert len(data) < 300_000
    count, video_frames, tracks = EXPECTED_FIXTURES[name]
    header, fragments = ingest(data)
    assert len(header.tracks) == tracks
    assert len(fragments) == count
    assert all(f.keyframe and f.frames_per_track[1] == video_frames for f in fragments)
    assert decode_counts(data)["video"] == count * video_frames
    if "sdk" in name:
        assert all(f.cluster_bytes[4] == 0xFF and ("CAMERA", "fixture") in f.tags for f in fragments)
