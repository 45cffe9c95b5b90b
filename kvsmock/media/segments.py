"""HLS/DASH media segments from Matroska: fMP4 (CMAF-style) and MPEG-TS, through PyAV.

The input is one KVS fragment as an MKV file (the stored Cluster behind the
header of the PutMedia session that sent it). FFmpeg remuxes it without
re-encoding:

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

The RFC 6381 codec strings a master playlist and an MPD declare are
:func:`kvsmock.media.codecs.codec_string`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .demux import open_for_remux
from .mp4.boxes import BoxError, first_tfdt, mdhd_timescale, split_boxes

__all__ = ["MP4_MOVFLAGS", "VIDEO_TIMESCALE", "Fmp4Segment", "SegmentError", "fmp4_segment", "ts_segment"]

MP4_MOVFLAGS = "empty_moov+default_base_moof+frag_custom+frag_discont"
#: Timescale of video tracks in the MP4 output (audio uses its sample rate).
VIDEO_TIMESCALE = 90_000


class SegmentError(ValueError):
    """The media could not be packaged (FFmpeg refused a frame or the input)."""


@dataclass(frozen=True)
class Fmp4Segment:
    """One track of one fragment as fMP4."""

    init: bytes  # ftyp + moov
    media: bytes  # moof + mdat
    base_media_decode_time: int  # tfdt of the first moof, in the track's timescale
    timescale: int


# ------------------------------------------------------------------ remux
def _open_input(mkv: bytes) -> Any:
    import av

    try:
        return open_for_remux(io.BytesIO(mkv))
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
    try:
        boxes = split_boxes(data)
        init = b"".join(data[s:e] for kind, s, e in boxes if kind in ("ftyp", "moov"))
        if not init:
            raise SegmentError("FFmpeg wrote no MP4 header")
        media = b"".join(data[s:e] for kind, s, e in boxes if kind in ("moof", "mdat"))
        moof = next((data[s:e] for kind, s, e in boxes if kind == "moof"), b"")
        # ``media`` is empty when the fragment holds no frames of this track.
        return Fmp4Segment(init, media, first_tfdt(moof), mdhd_timescale(init))
    except BoxError as err:
        raise SegmentError(f"FFmpeg wrote a broken MP4: {err}") from None


def ts_segment(mkv: bytes, shift: Fraction | int = 0) -> bytes:
    """Every track of ``mkv`` as one MPEG-TS file, PTS kept (plus ``shift`` seconds)."""
    import av

    source = _open_input(mkv)
    buffer = io.BytesIO()
    try:
        try:
            options = {"mpegts_copyts": "1", "avoid_negative_ts": "disabled"}
            with av.open(buffer, "w", format="mpegts", options=options) as output:
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
