"""The media layer of GetClip and GetImages: codec checks, the MP4 remux, frame picking and image encoding."""

import io
import struct
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from helpers.producers import split_at_clusters
from kvsmock.media import ebml
from kvsmock.media.clip import ClipSource, check_clip_tracks, mkv_to_mp4
from kvsmock.media.codecs import (
    InvalidCodecPrivateData,
    InvalidMediaFrame,
    MissingCodecPrivateData,
    UnsupportedMediaType,
    check_aac_config,
    check_nal_frame,
    check_wave_format,
    parse_avc_config,
    parse_hevc_config,
)
from kvsmock.media.images import ImageEncoder, frames_at, jpeg_qscale, output_size
from kvsmock.media.matroska import TrackInfo, cluster_element, cluster_timecode, header_elements, split_fragments
from kvsmock.media.mp4.faststart import faststart
from kvsmock.media.sample import encode_sample


@pytest.fixture(scope="module")
def h264():
    return encode_sample(4.0, 1.0, 25, 160, 120, "h264", True)


def _track(spec) -> TrackInfo:
    return TrackInfo(spec.number, codec_id=spec.codec_id, type=spec.type, codec_private=spec.codec_private)


def _source(media, starts, tracks=None):
    """A ClipSource of ``media`` cut into fragments, placed at ``starts`` (seconds)."""
    specs = tracks or media.tracks
    header = ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header_elements(specs)
    fragments = split_fragments(media.packets)
    clusters = [cluster_element(min(p.time_ms for p in f), f) for f in fragments]
    return ClipSource(header, clusters, starts[: len(clusters)]), [_track(t) for t in specs]


# ---------------------------------------------------------------- codec private data
def test_avc_config(h264):
    cpd = h264.tracks[0].codec_private
    assert parse_avc_config(cpd) == 4
    for bad in (
        b"",
        b"\x00\x00\x00\x01\x67\x42\xc0\x1e",  # Annex-B start code: not a configuration record
        cpd[:6],  # truncated before the SPS
        cpd[:5] + b"\xe0" + cpd[6:],  # no SPS
        cpd[:-6],  # PPS overruns the record
    ):
        with pytest.raises(InvalidCodecPrivateData):
            parse_avc_config(bad)


def test_hevc_config():
    cpd = encode_sample(1.0, 1.0, 25, 64, 48, "h265", False).tracks[0].codec_private
    assert parse_hevc_config(cpd) == 4
    for bad in (cpd[:22], b"\x00" + cpd[1:], cpd[:-3]):
        with pytest.raises(InvalidCodecPrivateData):
            parse_hevc_config(bad)


def test_aac_config(h264):
    check_aac_config(h264.tracks[1].codec_private)  # AAC-LC 48 kHz mono
    check_aac_config(b"\x12\x10")  # AAC-LC 44.1 kHz stereo
    check_aac_config(b"\x17\x80\x02\xb1\x10")  # explicit frequency (index 15)
    for bad in (b"", b"\x12", b"\x02\x10", b"\x16\x90", b"\x17\x80\x02"):
        with pytest.raises(InvalidCodecPrivateData):
            check_aac_config(bad)


def test_wave_format():
    assert check_wave_format(struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)) == "mulaw"
    assert check_wave_format(struct.pack("<HHIIHH", 6, 2, 8000, 16000, 2, 8)) == "alaw"
    with pytest.raises(UnsupportedMediaType):
        check_wave_format(struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16))  # PCM is not G.711
    with pytest.raises(InvalidCodecPrivateData):
        check_wave_format(b"\x07\x00\x01\x00")


def test_clip_tracks(h264):
    video, audio = (_track(t) for t in h264.tracks)
    kept = check_clip_tracks([video, audio])
    assert (kept.video_index, kept.audio_index, kept.container, kept.nal_length_size) == (0, 1, "mp4", 4)
    assert check_clip_tracks([video]).audio is None
    third = TrackInfo(3, codec_id="S_TEXT/UTF8", type=17)
    assert check_clip_tracks([video, audio, third]).audio_index == 1  # further tracks are left out
    g711 = TrackInfo(2, codec_id="A_MS/ACM", type=2, codec_private=struct.pack("<HHIIHH", 7, 1, 8000, 8000, 1, 8))
    assert check_clip_tracks([video, g711]).container == "mov"
    cases = [
        ([TrackInfo(1, codec_id="V_VP8", type=1, codec_private=None)], UnsupportedMediaType),
        ([TrackInfo(1, codec_id="A_AAC", type=2, codec_private=audio.codec_private)], UnsupportedMediaType),
        ([video, TrackInfo(2, codec_id="A_OPUS", type=2, codec_private=b"OpusHead")], UnsupportedMediaType),
        ([TrackInfo(2, codec_id="A_AAC", type=2, codec_private=audio.codec_private)], UnsupportedMediaType),
        ([TrackInfo(1, codec_id="V_MPEG4/ISO/AVC", type=1)], MissingCodecPrivateData),
        ([video, TrackInfo(2, codec_id="A_AAC", type=2)], MissingCodecPrivateData),
        ([TrackInfo(1, codec_id="V_MPEG4/ISO/AVC", type=1, codec_private=b"\0\0\0\1\x67")], InvalidCodecPrivateData),
        ([video, TrackInfo(2, codec_id="A_AAC", type=2, codec_private=b"\x00\x00")], InvalidCodecPrivateData),
    ]
    for tracks, error in cases:
        with pytest.raises(error):
            check_clip_tracks(tracks)


def test_nal_frames():
    check_nal_frame(b"\x00\x00\x00\x02\x65\x88\x00\x00\x00\x01\x06", 4, False)
    check_nal_frame(b"\x00\x03\x26\x01\xaf", 2, True)
    for bad in (
        b"",
        b"\x00\x00\x00\x01\x65\x88\x84\x00\x33\xff",  # Annex-B
        b"\x00\x00\x00\x05\x65\x88",  # length past the end
        b"\x00\x00\x00\x01\xe5",  # forbidden_zero_bit set
        b"\x00\x00\x00",  # ends inside a length
    ):
        with pytest.raises(InvalidMediaFrame):
            check_nal_frame(bad, 4, False)
    with pytest.raises(InvalidMediaFrame):
        check_nal_frame(b"\x00\x01\x26", 2, True)  # an HEVC NAL header is two bytes


def test_cluster_timecode(h264):
    fragment = split_fragments(h264.packets)[1]
    assert cluster_timecode(cluster_element(1000, fragment)) == 1000
    assert cluster_timecode(cluster_element(1000, fragment, unknown_size=True, size_width=8)) == 1000
    with pytest.raises(ebml.EBMLError):
        cluster_timecode(ebml.element(ebml.TRACKS, b""))


# ---------------------------------------------------------------- remux
def _read(mp4):
    with av.open(io.BytesIO(mp4)) as container:
        packets = [(p.stream.type, float(p.pts * p.time_base), bytes(p)) for p in container.demux() if p.size]
        return container.format.name, [s.codec_context.name for s in container.streams], packets


def test_remux_keeps_every_packet_and_places_fragments(h264):
    source, tracks = _source(h264, [100.0, 101.0, 102.0, 103.0])
    mp4 = mkv_to_mp4(source, check_clip_tracks(tracks))
    _, codecs, packets = _read(mp4)
    assert codecs == ["h264", "aac"]
    video = [(t, data) for kind, t, data in packets if kind == "video"]
    assert [d for _, d in video] == [p.data for p in h264.packets if p.track == 1]  # not re-encoded
    assert video[0][0] == 0 and video[-1][0] == pytest.approx(3.96)
    assert sorted(d for kind, _, d in packets if kind == "audio") == sorted(p.data for p in h264.packets if p.track == 2)

    # A fragment placed 10 s later lands 10 s later; one placed on top of the previous follows it.
    source, tracks = _source(h264, [0.0, 11.0, 11.0, 13.0])
    _, _, packets = _read(mkv_to_mp4(source, check_clip_tracks(tracks)))
    video = [t for kind, t, _ in packets if kind == "video"]
    assert video[25] == pytest.approx(11.0) and video[50] == pytest.approx(12.0, abs=0.002)
    assert video[75] == pytest.approx(13.0) and video == sorted(video)


def test_remux_rejects_bad_frames(h264):
    media = encode_sample(2.0, 1.0, 25, 160, 120, "h264", False)
    header = ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header_elements(media.tracks)
    fragment = list(split_fragments(media.packets)[0])
    fragment[3] = type(fragment[3])(1, fragment[3].time_ms, False, b"\x00\x00\x00\x01\x41\x9a\x00\x00\x10")
    source = ClipSource(header, [cluster_element(0, fragment)], [0.0])
    with pytest.raises(InvalidMediaFrame):
        mkv_to_mp4(source, check_clip_tracks([_track(media.tracks[0])]))


def _top_boxes(mp4: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(mp4):
        out.append(mp4[pos + 4 : pos + 8])
        pos += int.from_bytes(mp4[pos : pos + 4], "big")
    return out


def test_faststart(h264):
    source, _ = _source(h264, [0.0, 1.0, 2.0, 3.0])
    mkv = b"".join([source.header, *source.clusters])
    plain = io.BytesIO()  # what the muxer writes by itself: moov after mdat
    with av.open(io.BytesIO(mkv)) as inp, av.open(plain, "w", format="mp4") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                out.mux(packet)
    plain = plain.getvalue()
    assert _top_boxes(plain).index(b"moov") > _top_boxes(plain).index(b"mdat")
    fast = faststart(plain)
    assert _top_boxes(fast).index(b"moov") < _top_boxes(fast).index(b"mdat") and len(fast) == len(plain)
    assert _read(fast)[2] == _read(plain)[2]  # chunk offsets moved with the data
    assert faststart(fast) == fast  # already in order: unchanged
    assert faststart(b"not an mp4") == b"not an mp4"
    clip = mkv_to_mp4(source, check_clip_tracks([_track(t) for t in h264.tracks]))
    assert _top_boxes(clip).index(b"moov") < _top_boxes(clip).index(b"mdat")


def test_moov_written_last_when_the_reserved_room_is_too_small(h264, monkeypatch):
    import kvsmock.media.clip.remux as clip

    source, tracks = _source(h264, [0.0, 1.0, 2.0, 3.0])
    roomy = mkv_to_mp4(source, check_clip_tracks(tracks))
    monkeypatch.setattr(clip, "_MOOV_BASE", 64)
    monkeypatch.setattr(clip, "_MOOV_PER_SAMPLE", 0)
    monkeypatch.setattr(clip, "_MOOV_PER_TRACK", 0)
    tight = mkv_to_mp4(source, check_clip_tracks(tracks))
    boxes = _top_boxes(tight)
    assert boxes.index(b"moov") < boxes.index(b"mdat") and len(tight) < len(roomy)  # no room left over
    assert _read(tight)[2] == _read(roomy)[2]


def test_pieces_reader():
    from kvsmock.media.clip.pieces import PiecesReader as _PiecesReader

    calls = []

    def lazy():
        calls.append("defg")
        return b"defg"

    opened = []
    pieces = [b"abc", b"", lazy, memoryview(b"hi")]
    reader = _PiecesReader(pieces, [3, 0, 4, 2], lambda i, data: opened.append((i, data)))
    # reads stop at the end of a piece (FFmpeg takes short reads)
    assert [reader.read(2), reader.read(4), reader.read(100), reader.read(100), reader.read(1)] == [b"ab", b"c", b"defg", b"hi", b""]
    assert opened == [(0, b"abc"), (2, b"defg"), (3, b"hi")] and calls == ["defg"]
    reader.seek(-3, io.SEEK_END)
    assert reader.tell() == 6 and reader.read() == b"g" and reader.read() == b"hi"
    assert calls == ["defg", "defg"]  # only the piece being read is kept
    reader.seek(1)
    assert type(reader.read(1)) is bytes
    assert reader.read(1) == b"c" and reader.tell() == 3


def test_the_next_piece_is_opened_on_another_thread_while_one_is_read():
    from kvsmock.media.clip.pieces import PiecesReader as _PiecesReader

    opened_by: list[str] = []
    opened = threading.Event()

    def lazy():
        opened_by.append(threading.current_thread().name)
        opened.set()
        return b"defg"

    reader = _PiecesReader([b"abc", b"", lazy], [3, 0, 4])
    assert reader.read(3) == b"abc"
    assert opened.wait(10)  # before any read reached it (past the empty piece)
    assert opened_by[0].startswith("kvsmock-clip-open")
    assert reader.read(10) == b"defg" and reader.read(1) == b"" and len(opened_by) == 1


def test_a_piece_that_fails_when_opened_ahead_fails_only_the_read_that_reaches_it():
    from kvsmock.media.clip.pieces import PiecesReader as _PiecesReader

    tried = threading.Event()

    def unusable_key():
        tried.set()
        raise ValueError("the key is disabled")

    reader = _PiecesReader([b"abc", unusable_key], [3, 4])
    assert reader.read(3) == b"abc" and tried.wait(10)
    assert reader.error is None
    assert reader.read(4) == b"" and isinstance(reader.error, ValueError)


def test_lazy_clusters_are_opened_in_turn(h264):
    source, tracks = _source(h264, [0.0, 1.0, 2.0, 3.0])
    opened = []

    def lazy(i, data):
        def open_():
            opened.append(i)
            return data
        return open_

    lazy_source = ClipSource(
        source.header, [lazy(i, c) for i, c in enumerate(source.clusters)], source.starts,
        sizes=[len(c) for c in source.clusters], frames=len(h264.packets),
    )
    assert _read(mkv_to_mp4(lazy_source, check_clip_tracks(tracks)))[2] == _read(mkv_to_mp4(source, check_clip_tracks(tracks)))[2]
    assert opened == [0, 1, 2, 3]
    with pytest.raises(ValueError):
        ClipSource(source.header, lazy_source.clusters, source.starts).cluster_sizes()

    # what a cluster's callable raises (say, its key is gone) comes out of mkv_to_mp4 as it is
    class KeyGone(Exception):
        pass

    def gone():
        raise KeyGone()

    for broken in (0, 2):
        clusters = list(lazy_source.clusters)
        clusters[broken] = gone
        with pytest.raises(KeyGone):
            mkv_to_mp4(ClipSource(source.header, clusters, source.starts, sizes=lazy_source.sizes, frames=100),
                       check_clip_tracks(tracks))


# ---------------------------------------------------------------- images
@pytest.fixture(scope="module")
def one_fragment():
    media = encode_sample(2.0, 2.0, 25, 160, 120, "h264", False)
    header = ebml.ebml_header() + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header_elements(media.tracks)
    packets = [type(p)(p.track, p.time_ms + 5000, p.keyframe, p.data) for p in media.packets]
    return header + cluster_element(5000, packets)  # frames at 5000-6960 ms


def test_frames_at_picks_the_frame_at_or_before(one_fragment):
    times = [Fraction(5040, 1000), Fraction(5000, 1000), Fraction(5079, 1000), Fraction(4, 1), Fraction(9, 1), 5.5]
    frames = frames_at(one_fragment, times)
    assert [round(float(f.time) * 1000) for f in frames] == [5040, 5000, 5040, 5000, 6960, 5480]
    assert frames_at(one_fragment, []) == []


def test_output_size_and_quality_scale():
    assert output_size(320, 240, None, None) == (320, 240)
    assert output_size(320, 240, 100, 50) == (100, 50)
    assert output_size(320, 240, 160, None) == (160, 120)
    assert output_size(320, 240, None, 60) == (80, 60)
    assert output_size(320, 240, 1, None) == (1, 1)
    scales = [jpeg_qscale(q) for q in range(1, 101)]
    assert scales == sorted(scales, reverse=True) and scales[0] == 31 and scales[-1] == 1
    assert jpeg_qscale(80) == 3 and jpeg_qscale(50) == 8


@pytest.mark.parametrize("fmt, magic", [("JPEG", b"\xff\xd8\xff"), ("PNG", b"\x89PNG")])
def test_encoder(one_fragment, fmt, magic):
    frame = frames_at(one_fragment, [5.0])[0]
    encoder = ImageEncoder(fmt, 90)
    for size in [(None, None), (64, None), (33, 17)]:
        data = encoder.encode(frame, *size)
        assert data.startswith(magic)
        with av.open(io.BytesIO(data)) as container:
            image = next(container.decode(video=0))
        assert (image.width, image.height) == output_size(160, 120, *size)
        if size == (None, None):
            source = frame.to_ndarray(format="rgb24").astype(int)
            assert np.abs(image.to_ndarray(format="rgb24").astype(int) - source).mean() < (3 if fmt == "JPEG" else 0.5)


def test_video_with_b_frames_is_probed_in_full():
    """Video that reorders frames is opened with FFmpeg's full probe, which times the packets it reads
    while probing: the clip is the one a full probe gives, its timestamps in order."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="matroska") as out:
        stream = out.add_stream("libx264", rate=25, options={"bf": "2", "g": "25"})
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        noise = np.random.default_rng(3)
        for i in range(50):
            frame = av.VideoFrame.from_ndarray(noise.integers(0, 255, (120, 160, 3), dtype=np.uint8), format="rgb24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    header, clusters = split_at_clusters(buf.getvalue())
    with av.open(io.BytesIO(buf.getvalue())) as probe:
        assert probe.streams.video[0].codec_context.has_b_frames
        spec = probe.streams.video[0]
        track = TrackInfo(1, codec_id="V_MPEG4/ISO/AVC", type=1, codec_private=bytes(spec.codec_context.extradata))
    mp4 = mkv_to_mp4(ClipSource(header, clusters, [0.0] * len(clusters)), check_clip_tracks([track]))
    with av.open(io.BytesIO(mp4)) as clip:
        packets = [p for p in clip.demux(clip.streams.video[0]) if p.size]
    dts = [p.dts for p in packets]
    assert dts == sorted(dts) and len(packets) >= 48  # the full probe leaves out at most the two it cannot time
