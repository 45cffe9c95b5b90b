"""HLS/DASH media segments from Matroska: fMP4 (CMAF-style) and MPEG-TS, through PyAV.

The input is one KVS fragment as an MKV file (the stored Cluster behind its
session's header, see :func:`kvsmock.service.archive.as_mkv`). FFmpeg remuxes
it without re-encoding:

* :func:`fmp4_segment` gives, for one track, the init segment (``ftyp`` +
  ``moov``, built from the codec private data) and the media segment
  (``moof`` + ``mdat``: the fragment's frames). The mp4 muxer runs with
  ``empty_moov+default_base_moof+frag_custom+frag_discont`` so the whole
  fragment becomes one movie fragment whose ``tfdt`` (baseMediaDecodeTime)
  is the fragment's own media time, not zero: segments fetched one by one
  line up on one timeline, as a player expects.
* :func:`ts_segment` gives one MPEG-TS file holding every track, with the
  PTS kept (``mpegts_copyts``), H.264 turned to Annex B and AAC framed as
  ADTS by FFmpeg's automatic bitstream filters.

``shift`` moves every timestamp by a number of seconds (a Fraction, so
millisecond arithmetic stays exact): the caller maps the Cluster's timecode
onto the time the segment should start at.

Also here: the RFC 6381 codec strings a master playlist and an MPD declare,
read from the codec private data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

from . import ebml
from .ebml import decode_uint, read_element_header

__all__ = [
    "MP4_MOVFLAGS",
    "Fmp4Segment",
    "SegmentError",
    "audio_object_type",
    "cluster_timecode",
    "codec_string",
    "first_tfdt",
    "fmp4_segment",
    "mdhd_timescale",
    "split_boxes",
    "ts_segment",
]

MP4_MOVFLAGS = "empty_moov+default_base_moof+frag_custom+frag_discont"
#: Timescale of video tracks in the MP4 output (audio uses its sample rate).
VIDEO_TIMESCALE = 90_000

_AVC = ("V_MPEG4/ISO/AVC", "V_MPEG/ISO/AVC")
_HEVC = ("V_MPEGH/ISO/HEVC", "V_MPEG/ISO/HEVC")


class SegmentError(ValueError):
    """The media could not be packaged (FFmpeg refused a frame or the input)."""


@dataclass(frozen=True)
class Fmp4Segment:
    """One track of one fragment as fMP4."""

    init: bytes  # ftyp + moov
    media: bytes  # moof + mdat
    base_media_decode_time: int  # tfdt of the first moof, in the track's timescale
    timescale: int


# ------------------------------------------------------------------ boxes
def split_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """Top-level ISO BMFF boxes of ``data``: ``(type, start, end)``."""
    boxes, pos, n = [], 0, len(data)
    while pos + 8 <= n:
        size = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = n - pos
        if size < 8:
            raise SegmentError(f"broken MP4 box {kind!r} at {pos}")
        boxes.append((kind, pos, pos + size))
        pos += size
    return boxes


def first_tfdt(moof: bytes) -> int:
    """baseMediaDecodeTime of the first ``tfdt`` box in ``moof`` (0 if there is none)."""
    i = moof.find(b"tfdt")
    if i < 0:
        return 0
    version = moof[i + 4]
    raw = moof[i + 8 : i + 16] if version == 1 else moof[i + 8 : i + 12]
    return int.from_bytes(raw, "big")


def mdhd_timescale(moov: bytes) -> int:
    """The timescale of the first track (``mdhd``) in an init segment."""
    i = moov.find(b"mdhd")
    if i < 0:
        return 0
    version = moov[i + 4]
    at = i + 8 + (16 if version == 1 else 8)
    return int.from_bytes(moov[at : at + 4], "big")


# --------------------------------------------------------------- matroska
def cluster_timecode(cluster: bytes) -> int:
    """The Timecode of a Cluster (in the segment's timecode units), 0 if it has none."""
    head = read_element_header(cluster, 0)
    if head is None or head[0] != ebml.CLUSTER:
        raise SegmentError("not a Matroska Cluster")
    pos = head[2]
    while pos < len(cluster):
        child = read_element_header(cluster, pos)
        if child is None or child[1] is None:
            break
        element_id, size, header_len = child
        if element_id == ebml.TIMECODE:
            return decode_uint(cluster[pos + header_len : pos + header_len + size])
        if element_id in (ebml.SIMPLE_BLOCK, ebml.BLOCK_GROUP):
            break  # the Timecode comes before the first block
        pos += header_len + size
    return 0


# ------------------------------------------------------------------ remux
def _open_input(mkv: bytes):
    import av

    try:
        return av.open(io.BytesIO(mkv), format="matroska")
    except av.error.FFmpegError as err:
        raise SegmentError(f"FFmpeg cannot read the fragment: {err}") from None


def _shift_ticks(shift: Fraction, time_base: Fraction) -> int:
    return round(Fraction(shift) / Fraction(time_base))


def fmp4_segment(mkv: bytes, stream_index: int, shift: Fraction | int = 0) -> Fmp4Segment:
    """One track (``stream_index``, in Tracks order) of ``mkv`` as fMP4 init + media segment."""
    import av

    source = _open_input(mkv)
    try:
        if stream_index >= len(source.streams):
            raise SegmentError(f"the fragment has no track at index {stream_index}")
        in_stream = source.streams[stream_index]
        buffer = io.BytesIO()
        options = {"movflags": MP4_MOVFLAGS, "use_editlist": "0", "avoid_negative_ts": "make_non_negative"}
        if in_stream.type == "video":
            options["video_track_timescale"] = str(VIDEO_TIMESCALE)
        try:
            with av.open(buffer, "w", format="mp4", options=options) as output:
                out_stream = output.add_stream_from_template(in_stream)
                if in_stream.codec_context.name == "hevc":
                    out_stream.codec_tag = "hvc1"  # what Apple players and MSE expect in MP4
                ticks = _shift_ticks(Fraction(shift), in_stream.time_base)
                for packet in source.demux(in_stream):
                    if packet.size == 0 or packet.pts is None:
                        continue  # the demuxer's end-of-stream marker
                    dts = packet.dts if packet.dts is not None else packet.pts
                    packet.pts, packet.dts = packet.pts + ticks, dts + ticks
                    packet.stream = out_stream
                    output.mux(packet)
        except av.error.FFmpegError as err:
            raise SegmentError(f"FFmpeg cannot package the fragment as MP4: {err}") from None
    finally:
        source.close()
    data = buffer.getvalue()
    boxes = split_boxes(data)
    init = b"".join(data[s:e] for kind, s, e in boxes if kind in ("ftyp", "moov"))
    if not init:
        raise SegmentError("FFmpeg wrote no MP4 header")
    media = b"".join(data[s:e] for kind, s, e in boxes if kind in ("moof", "mdat"))
    moof = next((data[s:e] for kind, s, e in boxes if kind == "moof"), b"")
    # ``media`` is empty when the fragment holds no frames of this track.
    return Fmp4Segment(init, media, first_tfdt(moof), mdhd_timescale(init))


def ts_segment(mkv: bytes, shift: Fraction | int = 0) -> bytes:
    """Every track of ``mkv`` as one MPEG-TS file, PTS kept (plus ``shift`` seconds)."""
    import av

    source = _open_input(mkv)
    buffer = io.BytesIO()
    try:
        try:
            with av.open(buffer, "w", format="mpegts", options={"mpegts_copyts": "1", "avoid_negative_ts": "disabled"}) as output:
                streams = {s.index: output.add_stream_from_template(s) for s in source.streams}
                ticks = {s.index: _shift_ticks(Fraction(shift), s.time_base) for s in source.streams}
                for packet in source.demux():
                    if packet.size == 0 or packet.pts is None:
                        continue
                    shift_ticks = ticks[packet.stream.index]
                    dts = packet.dts if packet.dts is not None else packet.pts
                    packet.pts, packet.dts = packet.pts + shift_ticks, dts + shift_ticks
                    packet.stream = streams[packet.stream.index]
                    output.mux(packet)
        except av.error.FFmpegError as err:
            raise SegmentError(f"FFmpeg cannot package the fragment as MPEG-TS: {err}") from None
    finally:
        source.close()
    return buffer.getvalue()


# ----------------------------------------------------------- codec strings
def audio_object_type(codec_private: bytes) -> int:
    """The MPEG-4 audioObjectType of an AudioSpecificConfig."""
    if not codec_private:
        raise ValueError("empty AudioSpecificConfig")
    aot = codec_private[0] >> 3
    if aot == 31 and len(codec_private) >= 2:
        aot = 32 + (((codec_private[0] & 0x07) << 3) | (codec_private[1] >> 5))
    return aot


def _reverse_bits32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def _hevc_string(cpd: bytes) -> str:
    if len(cpd) < 13:
        raise ValueError("HEVCDecoderConfigurationRecord too short")
    space = ("", "A", "B", "C")[cpd[1] >> 6]
    tier = "H" if cpd[1] & 0x20 else "L"
    profile = cpd[1] & 0x1F
    compat = _reverse_bits32(int.from_bytes(cpd[2:6], "big"))
    constraints = list(cpd[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [f"hvc1.{space}{profile}", f"{compat:X}", f"{tier}{cpd[12]}"] + [f"{b:X}" for b in constraints]
    return ".".join(parts)


def codec_string(codec_id: str, codec_private: bytes | None) -> str | None:
    """The RFC 6381 codecs value of a Matroska track (``avc1.64001f``, ``hvc1.1.6.L93.B0``, ``mp4a.40.2``)."""
    cpd = codec_private or b""
    try:
        if codec_id in _AVC and len(cpd) >= 4:
            return f"avc1.{cpd[1]:02x}{cpd[2]:02x}{cpd[3]:02x}"
        if codec_id in _HEVC:
            return _hevc_string(cpd)
        if codec_id.startswith("A_AAC"):
            return f"mp4a.40.{audio_object_type(cpd)}"
    except ValueError:
        return None
    return None
