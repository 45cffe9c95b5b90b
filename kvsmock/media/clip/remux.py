"""The MP4 remux of GetClip: stored Matroska Clusters into one regular MP4, without re-encoding.

GetClip hands :func:`mkv_to_mp4` the MKV header of a stream and the
Clusters of the fragments it selected (a :class:`ClipSource`), with the
tracks :func:`~kvsmock.media.clip.tracks.check_clip_tracks` kept. PyAV
demuxes the Clusters, every video frame is checked to be length-prefixed
NAL units as the codec private data says, each fragment is put at its place
on the clip's timeline, and a regular (non-fragmented) MP4 is muxed with the
``moov`` box in front of ``mdat``. The Clusters are never joined into one
buffer: PyAV reads them one by one (:class:`~.pieces.PiecesReader`), and a
Cluster given as a callable (one that decrypts it, say) is only opened as
the demuxer nears it (while it reads the Cluster before).

Problems are raised as :class:`~kvsmock.media.codecs.ClipMediaError`
subclasses, which the api layer turns into the service's exceptions.
"""

from __future__ import annotations

import bisect
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ..codecs import InvalidMediaFrame, check_nal_frame
from ..demux import open_probing_little
from ..ebml.errors import EBMLError
from ..matroska.clusters import cluster_timecode, count_blocks
from ..mp4.faststart import faststart
from .pieces import PiecesReader
from .tracks import ClipTracks

__all__ = ["ClipSource", "mkv_to_mp4"]


@dataclass(frozen=True)
class ClipSource:
    """What a clip is made of: an MKV header, Clusters, and where each Cluster goes on the timeline.

    A Cluster may be given as a zero-argument callable returning its bytes
    (for instance one that decrypts it): it is called, on another thread,
    when the remux reaches the Cluster before it, so at most two Clusters are
    held in the clear at a time. ``sizes`` must then give every Cluster's
    length. ``frames``, when known, sizes the room reserved for ``moov``
    without reading the Clusters first.
    """

    #: EBML header, Segment header and the Segment children before the first Cluster.
    header: bytes
    clusters: Sequence[bytes | Callable[[], bytes]]
    #: Seconds (any origin): where each Cluster's Timecode lands on the clip timeline.
    starts: Sequence[float]
    timecode_scale_ns: int = 1_000_000
    sizes: Sequence[int] | None = None
    frames: int | None = None

    def cluster_sizes(self) -> list[int]:
        if self.sizes is not None:
            return list(self.sizes)
        if any(callable(c) for c in self.clusters):
            raise ValueError("sizes are needed when clusters are callables")
        return [len(c) for c in self.clusters if not callable(c)]


#: MP4 ``moov`` room reserved in front of ``mdat`` (FFmpeg's ``moov_size``): fixed part, per track, per block.
_MOOV_BASE, _MOOV_PER_TRACK, _MOOV_PER_SAMPLE = 8192, 4096, 40
#: FFmpeg's read buffer for the MKV (bytes).
_READ_BUFFER = 256 << 10


class _MoovRoomTooSmall(Exception):
    """The ``moov`` box did not fit the room reserved for it."""


def mkv_to_mp4(source: ClipSource, tracks: ClipTracks) -> bytes:
    """Remux the Clusters into one regular MP4 (no re-encoding), the clip starting at time 0.

    Each packet keeps its offset from its Cluster's Timecode and is placed at
    ``source.starts[i]`` of its Cluster, so fragments from PutMedia sessions
    with their own timecode origins line up; a fragment that would overlap
    the previous one is pushed to where the previous one ends. Video frames
    are checked with :func:`check_nal_frame` on the way. The ``moov`` box is
    written into room reserved in front of ``mdat`` (sized from the number
    of blocks), so the file plays while it downloads without a second pass;
    should it not fit, the clip is muxed again with ``moov`` last and
    :func:`faststart` moves it.
    """
    if not source.clusters:
        raise ValueError("no clusters")
    wanted = [tracks.video_index] + ([tracks.audio_index] if tracks.audio_index is not None else [])
    samples = source.frames
    if samples is None:
        samples = sum(count_blocks(c() if callable(c) else c) for c in source.clusters)
    room = _MOOV_BASE + _MOOV_PER_TRACK * len(wanted) + _MOOV_PER_SAMPLE * samples
    try:
        return _remux(source, tracks, wanted, {"moov_size": str(room)})
    except _MoovRoomTooSmall:
        return faststart(_remux(source, tracks, wanted, {}))


def _open_input(make_reader: Callable[[], PiecesReader], with_audio: bool) -> tuple[PiecesReader, Any, bool]:
    """The demuxer over the Clusters, probing as little as it can (:func:`open_probing_little`).

    A packet read while probing comes without a DTS; for video that does not
    reorder frames (no B-frames, the usual case for cameras) that is its PTS.
    A clip with audio (whose packet durations FFmpeg only knows once it has
    decoded some) is opened with FFmpeg's full probe; so is video found to
    reorder frames, opened again. Returns the reader, the demuxer, and
    whether a packet without a DTS takes its PTS (False: it is left out).
    """
    import av

    reader = make_reader()
    try:
        if not with_audio:
            inp = open_probing_little(reader, buffer_size=_READ_BUFFER)
            if not any(s.type == "video" and s.codec_context.has_b_frames for s in inp.streams):
                return reader, inp, True
            inp.close()
            reader = make_reader()
        return reader, av.open(reader, "r", format="matroska", buffer_size=_READ_BUFFER), False
    except av.error.FFmpegError as err:
        if reader.error is not None:
            raise reader.error from None
        raise InvalidMediaFrame(f"The media could not be read: {err}") from None


def _remux(source: ClipSource, tracks: ClipTracks, wanted: list[int], options: dict[str, str]) -> bytes:
    import av

    sizes = source.cluster_sizes()
    # Byte offset of each Cluster's end, to find the fragment of a demuxed packet by its position.
    ends, offset = [], len(source.header)
    for size in sizes:
        offset += size
        ends.append(offset)
    last = len(ends) - 1
    scale = Fraction(source.timecode_scale_ns, 1_000_000_000)
    # Each Cluster's Timecode, read when the demuxer first reaches the Cluster.
    cluster_tcs: dict[int, int | None] = {}

    def opened(i: int, data: bytes) -> None:
        if i:
            try:
                cluster_tcs[i - 1] = cluster_timecode(data)
            except EBMLError:  # placed by its first packet's time instead
                cluster_tcs[i - 1] = None

    origin = Fraction(source.starts[0]).limit_denominator(1_000_000)
    reader, inp, dts_from_pts = _open_input(
        lambda: PiecesReader([source.header, *source.clusters], [len(source.header), *sizes], opened),
        with_audio=len(wanted) > 1,
    )
    out_buf = io.BytesIO()
    with inp:
        streams = list(inp.streams)
        if any(i >= len(streams) for i in wanted):
            raise InvalidMediaFrame("The media's tracks could not be read.")
        out = av.open(out_buf, "w", format=tracks.container, options=options)
        muxed = 0
        failed = True
        try:
            mapping = {i: out.add_stream_from_template(streams[i]) for i in wanted}
            # Per stream: the fragment its packets are in, the shift (stream time-base units)
            # that places that fragment, and the last muxed packet's dts and end.
            current: dict[int, int] = {}
            shift_of: dict[int, int] = {}
            last_dts: dict[int, int] = {}
            last_end: dict[int, int] = {}
            fragment, fragment_end = 0, ends[0]
            video_index, length_size, hevc = tracks.video_index, tracks.nal_length_size, tracks.hevc
            mux = out.mux
            for packet in inp.demux([streams[i] for i in wanted]):
                packet_dts = packet.dts
                if packet_dts is None and dts_from_pts:  # read while probing; nothing reorders (_open_input)
                    packet_dts = packet.pts
                if packet_dts is None or packet.size == 0:
                    continue
                index = packet.stream_index
                pos = packet.pos
                if pos is not None and pos >= fragment_end and fragment < last:
                    fragment = min(bisect.bisect_right(ends, pos), last)
                    fragment_end = ends[fragment]
                if index == video_index:
                    check_nal_frame(memoryview(packet), length_size, hevc)
                if current.get(index) != fragment:  # the stream's first packet in this fragment
                    current[index] = fragment
                    tb = packet.time_base
                    tc = cluster_tcs.get(fragment)
                    tc_seconds = tc * scale if tc is not None else packet_dts * tb
                    place = Fraction(source.starts[fragment]).limit_denominator(1_000_000) - origin
                    shift = round((place - tc_seconds) / tb)
                    floor = last_end.get(index)
                    if floor is not None and packet_dts + shift < floor:  # overlaps the previous fragment
                        shift = floor - packet_dts
                    shift_of[index] = shift
                else:
                    shift = shift_of[index]
                    if packet_dts + shift <= last_dts[index]:  # out of order inside a fragment
                        shift = shift_of[index] = last_dts[index] + 1 - packet_dts
                pts = packet.pts
                dts = packet_dts + shift
                last_dts[index] = dts
                last_end[index] = dts + (packet.duration or 1)
                packet.dts = dts
                packet.pts = (packet_dts if pts is None else pts) + shift
                packet.stream = mapping[index]
                mux(packet)
                muxed += 1
            if reader.error is not None:
                raise reader.error
            failed = False
        except av.error.FFmpegError as err:
            if reader.error is not None:
                raise reader.error from None
            raise InvalidMediaFrame(f"The media could not be remuxed: {err}") from None
        finally:
            try:
                out.close()
            except av.error.FFmpegError as err:
                if not failed and muxed and "moov_size" in options:
                    raise _MoovRoomTooSmall() from err
        if not muxed:
            raise InvalidMediaFrame("The media holds no frames.")
    return out_buf.getvalue()
