"""The live MKV writer: H.264 access units (Annex-B, as WebRTC delivers them) and AAC frames in, fragments out.

The media is real: access units from PyAV's libx264 (parameter sets in
band, as a WebRTC sender sends them), Opus packets from libopus made into
AAC by kvsmock's transcoder. The fragments are checked by the PutMedia
fragmenter and decoded by FFmpeg.
"""

from __future__ import annotations

import io

import av
import pytest
from helpers.live_media import aac_track, access_units

from kvsmock.media.codecs import parse_avc_config
from kvsmock.media.codecs.h264 import avc_config, sps_dimensions
from kvsmock.media.codecs.nal import annexb_units, length_prefixed
from kvsmock.media.live_mkv import AUDIO_TRACK, VIDEO_TRACK, LiveAudio, LiveFragment, LiveMkv
from kvsmock.media.put_media import FragmentComplete, Fragmenter, HeaderParsed, MediaError

START = 1_767_225_600_000  # 2026-01-01, epoch ms


@pytest.fixture(scope="module")
def aac() -> tuple[LiveAudio, list[bytes]]:
    """The AAC track description and 4 s of tone, sent as Opus and made into AAC."""
    track, frames = aac_track(200)
    assert len(frames) >= 180
    return track, frames


def fragmenter_events(data: bytes):
    fragmenter = Fragmenter()
    events = fragmenter.feed(data) + fragmenter.close()
    errors = [e for e in events if isinstance(e, MediaError)]
    assert not errors, errors
    return events


def stream_bytes(fragments: list[LiveFragment]) -> bytes:
    assert len({f.header for f in fragments}) == 1
    return fragments[0].header + b"".join(f.cluster for f in fragments)


def test_annexb_units_and_length_prefix():
    stream = b"\x00\x00\x00\x01\x67\x42\x00\x1f\x00\x00\x01\x68\xce\x3c\x80\x00\x00\x00\x01\x65\x88\x84\x00"
    units = annexb_units(stream)
    assert units == [b"\x67\x42\x00\x1f", b"\x68\xce\x3c\x80", b"\x65\x88\x84"]
    assert length_prefixed(units[:1]) == b"\x00\x00\x00\x04\x67\x42\x00\x1f"
    assert annexb_units(b"garbage without start codes") == []


@pytest.mark.parametrize("size", [(176, 144), (322, 178), (1280, 720)])
def test_sps_dimensions_and_avc_config(size):
    units = annexb_units(access_units(1, *size)[0])
    sps = next(u for u in units if u[0] & 0x1F == 7)
    pps = next(u for u in units if u[0] & 0x1F == 8)
    assert sps_dimensions(sps) == size
    record = avc_config([sps], [pps])
    assert parse_avc_config(record) == 4
    assert record[1:4] == sps[1:4]


def test_video_and_audio_fragments_are_valid_putmedia(aac):
    track, audio = aac
    writer = LiveMkv(track)
    video = access_units(100)  # 4 s, a keyframe every 0.4 s
    fragments: list[LiveFragment] = []
    a = 0
    for index, unit in enumerate(video):
        t = START + index * 40
        while a < len(audio) and START + round(a * track.frame_ms) <= t:
            fragments += writer.audio(START + round(a * track.frame_ms), audio[a])
            a += 1
        fragments += writer.video(t, unit)
    fragments += writer.flush()
    # cut at the first keyframe at least 1 s into each fragment: 0, 1.2, 2.4, 3.6 s
    assert [f.timecode - START for f in fragments] == [0, 1200, 2400, 3600]
    assert all(f.keyframe for f in fragments)
    assert all(f.frames[VIDEO_TRACK] and f.frames[AUDIO_TRACK] for f in fragments)
    assert sum(f.frames[VIDEO_TRACK] for f in fragments) == 100
    data = stream_bytes(fragments)
    events = fragmenter_events(data)
    header = events[0]
    assert isinstance(header, HeaderParsed)
    assert [(t.number, t.codec_id, t.width, t.height) for t in header.tracks][0] == (1, "V_MPEG4/ISO/AVC", 176, 144)
    assert (header.tracks[1].codec_id, header.tracks[1].sampling_rate, header.tracks[1].channels) == ("A_AAC", 48000.0, 2)
    complete = [e.fragment for e in events if isinstance(e, FragmentComplete)]
    assert [c.timecode for c in complete] == [f.timecode for f in fragments]
    # FFmpeg decodes both tracks: H.264 and AAC
    counts = {"h264": 0, "aac": 0}
    with av.open(io.BytesIO(data)) as container:
        for frame in container.decode(*container.streams):
            counts["h264" if isinstance(frame, av.VideoFrame) else "aac"] += 1
        names = sorted(s.codec_context.name for s in container.streams)
    assert names == ["aac", "h264"]
    assert counts["h264"] == 100 and counts["aac"] > 150


def test_the_access_units_are_stored_as_sent(aac):
    writer = LiveMkv(aac[0])
    video = access_units(30)
    out = [f for i, unit in enumerate(video) for f in writer.video(START + i * 40, unit)] + writer.flush()
    stored = []
    with av.open(io.BytesIO(stream_bytes(out))) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                stored.append(bytes(packet))
    assert stored == [length_prefixed(annexb_units(unit)) for unit in video]


def test_fragments_without_audio_get_silence(aac):
    track, _ = aac
    writer = LiveMkv(track)
    video = access_units(60)
    fragments = [f for i, unit in enumerate(video) for f in writer.video(START + i * 40, unit)]
    # no audio came: the closed fragments wait for it up to audio_wait_ms of video time, then go with silence
    assert [f.timecode - START for f in fragments] == [0]
    fragments += writer.flush()
    assert all(f.frames[AUDIO_TRACK] >= 1 for f in fragments)
    fragmenter_events(stream_bytes(fragments))


def test_video_before_the_first_keyframe_and_late_audio_are_dropped(aac):
    track, audio = aac
    writer = LiveMkv(track, audio_wait_ms=0)
    video = access_units(40)
    assert writer.video(START - 40, video[1]) == []  # not a keyframe: nothing to start with
    assert writer.audio(START - 20, audio[0]) == []  # no stream yet
    out = []
    for index, unit in enumerate(video):
        out += writer.video(START + index * 40, unit)
    assert out and writer.audio(START + 100, audio[1]) == []  # its fragment has gone
    assert writer.dropped == 3
    out += writer.flush()
    fragmenter_events(stream_bytes(out))


def test_a_keyframe_is_wanted_when_a_fragment_runs_long(aac):
    writer = LiveMkv(aac[0], target_fragment_ms=2000, max_fragment_ms=3000)
    video = access_units(120, gop=1000)  # one keyframe only
    wanted_at = None
    out = []
    for index, unit in enumerate(video):
        out += writer.video(START + index * 40, unit)
        if writer.wants_keyframe and wanted_at is None:
            wanted_at = index * 40
    assert wanted_at == 2000
    out += writer.flush()
    # no keyframe came: cut at 3 s anyway (a fragment may not exceed the service's limit)
    assert [f.timecode - START for f in out] == [0, 3000]
    assert [f.keyframe for f in out] == [True, False]


def test_new_parameter_sets_start_a_new_stream(aac):
    writer = LiveMkv(aac[0])
    small, large = access_units(30, 176, 144), access_units(30, 320, 240)
    out = [f for i, unit in enumerate(small) for f in writer.video(START + i * 40, unit)]
    out += [f for i, unit in enumerate(large) for f in writer.video(START + 1200 + i * 40, unit)]
    out += writer.flush()
    headers = list(dict.fromkeys(f.header for f in out))
    assert len(headers) == 2
    for header in headers:
        fragmenter_events(header + b"".join(f.cluster for f in out if f.header == header))
    first = fragmenter_events(headers[1] + b"".join(f.cluster for f in out if f.header == headers[1]))[0]
    assert (first.tracks[0].width, first.tracks[0].height) == (320, 240)
