"""MP4 clips from stored Matroska: codec checks and a PyAV remux without re-encoding.

GetClip hands this module the MKV header of a stream and the Clusters of
the fragments it selected. :func:`check_clip_tracks` applies the service's
rules on the tracks (H.264/H.265 video on track 1, optional AAC or G.711
audio on track 2, codec private data present and well formed);
:func:`mkv_to_mp4` demuxes the Clusters with PyAV, checks every video frame
is length-prefixed NAL units as the codec private data says, puts each
fragment at its place on the clip's timeline and muxes a regular
(non-fragmented) MP4 with the ``moov`` box in front of ``mdat``. The
Clusters are never joined into one buffer: PyAV reads them one by one, and
a Cluster given as a callable (one that decrypts it, say) is only opened
when the demuxer reaches it.

Nothing here knows of AWS: problems are raised as :class:`ClipMediaError`
subclasses, which the api layer turns into the service's exceptions.
"""

from __future__ import annotations

import bisect
import io
import struct
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Sequence

from . import ebml
from .matroska import TrackInfo

__all__ = [
    "AVC",
    "ClipMediaError",
    "ClipSource",
    "ClipTracks",
    "HEVC",
    "InvalidCodecPrivateData",
    "InvalidMediaFrame",
    "MissingCodecPrivateData",
    "UnsupportedMediaType",
    "check_aac_config",
    "check_clip_tracks",
    "check_nal_frame",
    "check_wave_format",
    "cluster_timecode",
    "count_blocks",
    "faststart",
    "mkv_to_mp4",
    "parse_avc_config",
    "parse_hevc_config",
]

AVC = "V_MPEG4/ISO/AVC"
HEVC = "V_MPEGH/ISO/HEVC"
AAC = "A_AAC"
ACM = "A_MS/ACM"
VIDEO_CODECS = (AVC, HEVC)
#: WAVEFORMATEX wFormatTag values of G.711: A-law and mu-law.
G711_FORMAT_TAGS = {6: "alaw", 7: "mulaw"}


class ClipMediaError(ValueError):
    """The stored media cannot be made into a clip."""


class UnsupportedMediaType(ClipMediaError):
    """A track's codec is not one a clip can hold (or track 1 is not video)."""


class MissingCodecPrivateData(ClipMediaError):
    """A track has no CodecPrivate."""


class InvalidCodecPrivateData(ClipMediaError):
    """A track's CodecPrivate is not the configuration record its codec needs."""


class InvalidMediaFrame(ClipMediaError):
    """A frame is not what its codec's configuration says frames look like."""


# ------------------------------------------------------------------ codec private data
def parse_avc_config(cpd: bytes) -> int:
    """Check an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1); return the NAL length size.

    Annex-B parameter sets (``00 00 00 01 67 ...``), which producers that
    skip NAL adaptation send, fail here as on the service.
    """
    b = bytes(cpd)
    if len(b) < 7 or b[0] != 1:
        raise InvalidCodecPrivateData("The codec private data is not an AVCDecoderConfigurationRecord.")
    length_size = (b[4] & 0x03) + 1
    if length_size == 3:
        raise InvalidCodecPrivateData("The AVC configuration declares a NAL unit length size of 3 bytes.")
    pos = 5
    for kind, count_mask, nal_type in (("SPS", 0x1F, 7), ("PPS", 0xFF, 8)):
        if pos >= len(b):
            raise InvalidCodecPrivateData(f"The AVC configuration ends before its {kind} count.")
        count = b[pos] & count_mask
        pos += 1
        if kind == "SPS" and count == 0:
            raise InvalidCodecPrivateData("The AVC configuration holds no sequence parameter set.")
        for _ in range(count):
            if pos + 2 > len(b):
                raise InvalidCodecPrivateData(f"The AVC configuration is truncated inside its {kind} list.")
            size = int.from_bytes(b[pos : pos + 2], "big")
            pos += 2
            if size == 0 or pos + size > len(b):
                raise InvalidCodecPrivateData(f"An {kind} in the AVC configuration overruns the record.")
            if b[pos] & 0x80 or b[pos] & 0x1F != nal_type:
                raise InvalidCodecPrivateData(f"An {kind} entry of the AVC configuration is not an {kind} NAL unit.")
            pos += size
    return length_size


def parse_hevc_config(cpd: bytes) -> int:
    """Check an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1); return the NAL length size."""
    b = bytes(cpd)
    if len(b) < 23 or b[0] != 1:
        raise InvalidCodecPrivateData("The codec private data is not an HEVCDecoderConfigurationRecord.")
    length_size = (b[21] & 0x03) + 1
    if length_size == 3:
        raise InvalidCodecPrivateData("The HEVC configuration declares a NAL unit length size of 3 bytes.")
    pos, arrays = 23, b[22]
    for _ in range(arrays):
        if pos + 3 > len(b):
            raise InvalidCodecPrivateData("The HEVC configuration is truncated inside its NAL unit arrays.")
        count = int.from_bytes(b[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(b):
                raise InvalidCodecPrivateData("The HEVC configuration is truncated inside a NAL unit array.")
            size = int.from_bytes(b[pos : pos + 2], "big")
            pos += 2
            if size < 2 or pos + size > len(b) or b[pos] & 0x80:
                raise InvalidCodecPrivateData("A NAL unit in the HEVC configuration is malformed.")
            pos += size
    return length_size


_AAC_RATES = 13  # sampling frequency indexes 0-12 are defined; 13 and 14 are reserved, 15 is explicit


def check_aac_config(cpd: bytes) -> None:
    """Check an AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1)."""
    b = bytes(cpd)
    if len(b) < 2:
        raise InvalidCodecPrivateData("The AAC codec private data is shorter than an AudioSpecificConfig.")
    bits = int.from_bytes(b[:8].ljust(8, b"\0"), "big")
    available = len(b) * 8

    def take(count: int, at: int) -> int:
        if at + count > available:
            raise InvalidCodecPrivateData("The AAC AudioSpecificConfig is truncated.")
        return (bits >> (64 - at - count)) & ((1 << count) - 1)

    pos = 0
    object_type = take(5, pos)
    pos += 5
    if object_type == 31:
        object_type = 32 + take(6, pos)
        pos += 6
    if object_type == 0:
        raise InvalidCodecPrivateData("The AAC AudioSpecificConfig declares audio object type 0 (null).")
    rate_index = take(4, pos)
    pos += 4
    if rate_index == 15:
        take(24, pos)
        pos += 24
    elif rate_index >= _AAC_RATES:
        raise InvalidCodecPrivateData(f"The AAC AudioSpecificConfig uses reserved sampling index {rate_index}.")
    take(4, pos)  # channelConfiguration (0 means a program config element follows)


def check_wave_format(cpd: bytes) -> str:
    """Check an MS WAVEFORMATEX for G.711; return ``"alaw"`` or ``"mulaw"``."""
    b = bytes(cpd)
    if len(b) < 16:
        raise InvalidCodecPrivateData("The A_MS/ACM codec private data is shorter than a WAVEFORMATEX.")
    tag = int.from_bytes(b[0:2], "little")
    channels = int.from_bytes(b[2:4], "little")
    rate = int.from_bytes(b[4:8], "little")
    if channels == 0 or rate == 0:
        raise InvalidCodecPrivateData("The WAVEFORMATEX declares no channels or a zero sample rate.")
    if tag not in G711_FORMAT_TAGS:
        raise UnsupportedMediaType(f"The A_MS/ACM track has format tag {tag}, not G.711 (6 or 7).")
    return G711_FORMAT_TAGS[tag]


# ------------------------------------------------------------------ tracks
@dataclass(frozen=True)
class ClipTracks:
    """The tracks a clip keeps: video (track 1) and optional audio (track 2)."""

    video: TrackInfo
    nal_length_size: int
    audio: TrackInfo | None = None
    #: ``"mp4"``, or ``"mov"`` when the audio is G.711 (which the ISO MP4 muxer cannot hold).
    container: str = "mp4"
    #: Positions of the kept tracks in the Tracks element (= PyAV stream indexes).
    video_index: int = 0
    audio_index: int | None = None

    @property
    def hevc(self) -> bool:
        return self.video.codec_id == HEVC


def _by_number(tracks: Sequence[TrackInfo], number: int) -> tuple[int, TrackInfo] | None:
    for index, track in enumerate(tracks):
        if track.number == number:
            return index, track
    return None


def check_clip_tracks(tracks: Sequence[TrackInfo]) -> ClipTracks:
    """Apply the service's track rules; raise a :class:`ClipMediaError` subclass when one fails.

    Tracks beyond 1 and 2 are left out of the clip.
    """
    found = _by_number(tracks, 1)
    if found is None:
        raise UnsupportedMediaType("The stream has no track 1.")
    video_index, video = found
    if video.codec_id not in VIDEO_CODECS:
        raise UnsupportedMediaType(
            f"Track 1 has codec {video.codec_id!r}; a clip needs {AVC} (H.264) or {HEVC} (H.265)."
        )
    audio_found = _by_number(tracks, 2)
    if audio_found is not None and audio_found[1].codec_id not in (AAC, ACM):
        raise UnsupportedMediaType(
            f"Track 2 has codec {audio_found[1].codec_id!r}; a clip needs {AAC} (AAC) or {ACM} (G.711)."
        )
    for _, track in [found] + ([audio_found] if audio_found else []):
        if not track.codec_private:
            raise MissingCodecPrivateData(f"Track {track.number} ({track.codec_id}) has no codec private data.")
    nal_length_size = (parse_hevc_config if video.codec_id == HEVC else parse_avc_config)(video.codec_private)
    container = "mp4"
    if audio_found is None:
        return ClipTracks(video, nal_length_size, video_index=video_index)
    audio_index, audio = audio_found
    if audio.codec_id == AAC:
        check_aac_config(audio.codec_private)
    else:
        check_wave_format(audio.codec_private)
        container = "mov"
    return ClipTracks(video, nal_length_size, audio, container, video_index, audio_index)


# ------------------------------------------------------------------ frames
_LENGTH_READERS = {
    1: struct.Struct(">B").unpack_from,
    2: struct.Struct(">H").unpack_from,
    4: struct.Struct(">I").unpack_from,
}


def check_nal_frame(data: bytes | memoryview, length_size: int, hevc: bool) -> None:
    """Check a video frame is whole length-prefixed NAL units with valid headers."""
    end, pos = len(data), 0
    if end == 0:
        raise InvalidMediaFrame("A video frame is empty.")
    read_length = _LENGTH_READERS[length_size]
    header_len = 2 if hevc else 1
    while pos < end:
        if pos + length_size > end:
            raise InvalidMediaFrame("A video frame ends inside a NAL unit length.")
        (size,) = read_length(data, pos)
        pos += length_size
        if size < header_len or pos + size > end:
            raise InvalidMediaFrame("A NAL unit length in a video frame does not match the frame.")
        if data[pos] & 0x80:  # forbidden_zero_bit
            raise InvalidMediaFrame("A NAL unit in a video frame has its forbidden bit set.")
        pos += size


# ------------------------------------------------------------------ clusters
def cluster_timecode(cluster: bytes | memoryview) -> int | None:
    """The Timecode of a Cluster element (``None`` if a block comes before it)."""
    header = ebml.read_element_header(cluster, 0)
    if header is None or header[0] != ebml.CLUSTER:
        raise ebml.EBMLError("not a Cluster element")
    pos = header[2]
    while pos < len(cluster):
        child = ebml.read_element_header(cluster, pos)
        if child is None:
            return None
        element_id, size, header_len = child
        if element_id == ebml.TIMECODE and size is not None:
            return ebml.decode_uint(cluster[pos + header_len : pos + header_len + size])
        if element_id in (ebml.SIMPLE_BLOCK, ebml.BLOCK_GROUP) or size is None:
            return None
        pos += header_len + size
    return None


@dataclass(frozen=True)
class ClipSource:
    """What a clip is made of: an MKV header, Clusters, and where each Cluster goes on the timeline.

    A Cluster may be given as a zero-argument callable returning its bytes
    (for instance one that decrypts it): it is called when the remux reaches
    it, so only one Cluster is held in the clear at a time. ``sizes`` must
    then give every Cluster's length. ``frames``, when known, sizes the room
    reserved for ``moov`` without reading the Clusters first.
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
        return [len(c) for c in self.clusters]  # type: ignore[arg-type]


# ------------------------------------------------------------------ remux
class _PiecesReader(io.RawIOBase):
    """A read-only, seekable file over byte pieces (or callables giving them), never joined.

    A piece given as a callable is called when a read first reaches it; only
    the piece being read is kept. :attr:`opened` calls back with each piece's
    index and bytes the first time it is opened.
    """

    def __init__(self, pieces: Sequence[bytes | Callable[[], bytes]], sizes: Sequence[int],
                 opened: Callable[[int, bytes], None] | None = None):
        super().__init__()
        self._sources = list(pieces)
        self._starts, total = [], 0
        for size in sizes:
            self._starts.append(total)
            total += size
        self._sizes = list(sizes)
        self._size = total
        self._pos = 0
        self._current: tuple[int, bytes] | None = None
        self._opened = opened
        self._seen: set[int] = set()
        #: What a piece's callable raised (the read then ends the file); re-raised by the caller.
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _piece(self, i: int) -> bytes:
        if self._current is not None and self._current[0] == i:
            return self._current[1]
        source = self._sources[i]
        try:
            data = source() if callable(source) else source
        except Exception as err:  # noqa: BLE001 - handed back to the caller, not to FFmpeg
            self.error = err
            return b""  # FFmpeg sees the end of the file
        if not isinstance(data, bytes):
            data = bytes(data)
        if len(data) != self._sizes[i]:
            raise ValueError(f"piece {i} has {len(data)} bytes, not {self._sizes[i]}")
        self._current = (i, data)
        if i not in self._seen:
            self._seen.add(i)
            if self._opened is not None:
                self._opened(i, data)
        return data

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, never crossing into the next piece (short reads are fine for
        FFmpeg), so a whole piece comes back without a copy."""
        pos = self._pos
        if pos >= self._size or size == 0:
            return b""
        i = bisect.bisect_right(self._starts, pos) - 1
        while not self._sizes[i]:  # an empty piece
            i += 1
        start = self._starts[i]
        piece = self._piece(i)
        if not piece:
            return b""
        stop = len(piece) if size is None or size < 0 else min(len(piece), pos - start + size)
        self._pos = start + stop
        return piece[pos - start : stop]


#: MP4 ``moov`` room reserved in front of ``mdat`` (FFmpeg's ``moov_size``): fixed part, per track, per block.
_MOOV_BASE, _MOOV_PER_TRACK, _MOOV_PER_SAMPLE = 8192, 4096, 40
#: FFmpeg's read buffer for the MKV (bytes).
_READ_BUFFER = 256 << 10


class _MoovRoomTooSmall(Exception):
    """The ``moov`` box did not fit the room reserved for it."""


def count_blocks(cluster: bytes | memoryview) -> int:
    """The SimpleBlocks and BlockGroups of a Cluster (frames, but a laced block counts once)."""
    header = ebml.read_element_header(cluster, 0)
    if header is None:
        return 0
    pos, count, end = header[2], 0, len(cluster)
    while pos < end:
        child = ebml.read_element_header(cluster, pos)
        if child is None or child[1] is None:
            break
        if child[0] in (ebml.SIMPLE_BLOCK, ebml.BLOCK_GROUP):
            count += 1
        pos += child[2] + child[1]
    return count


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
            except ebml.EBMLError:  # placed by its first packet's time instead
                cluster_tcs[i - 1] = None

    origin = Fraction(source.starts[0]).limit_denominator(1_000_000)
    reader = _PiecesReader([source.header, *source.clusters], [len(source.header), *sizes], opened)
    try:
        inp = av.open(reader, format="matroska", buffer_size=_READ_BUFFER)
    except av.error.FFmpegError as err:
        if reader.error is not None:
            raise reader.error from None
        raise InvalidMediaFrame(f"The media could not be read: {err}") from None
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


# ------------------------------------------------------------------ moov in front
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"dinf"}


def _boxes(buf: memoryview | bytearray, start: int, end: int):
    """(type, box start, payload start, box end) of the boxes in ``buf[start:end]``."""
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(buf[pos : pos + 4], "big")
        kind = bytes(buf[pos + 4 : pos + 8])
        header = 8
        if size == 1:
            size = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise ValueError(f"malformed MP4 box {kind!r} at {pos}")
        yield kind, pos, pos + header, pos + size
        pos += size


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    import numpy as np

    for kind, _, payload, box_end in _boxes(moov, start, end):
        if kind in _CONTAINERS:
            _shift_chunk_offsets(moov, payload, box_end, delta)
        elif kind in (b"stco", b"co64"):
            count = int.from_bytes(moov[payload + 4 : payload + 8], "big")
            width = 4 if kind == b"stco" else 8
            first = payload + 8
            last = first + count * width
            dtype = ">u4" if width == 4 else ">u8"
            offsets = np.frombuffer(bytes(moov[first:last]), dtype=dtype).astype(np.uint64) + delta
            if width == 4 and count and int(offsets.max()) >= 1 << 32:
                raise OverflowError("chunk offsets no longer fit stco")
            moov[first:last] = offsets.astype(dtype).tobytes()


def faststart(mp4: bytes | memoryview) -> bytes:
    """Move the ``moov`` box in front of ``mdat`` (like ``-movflags +faststart``), fixing chunk offsets.

    A file already in that order, or one this cannot rearrange, is returned as it is.
    """
    view = memoryview(mp4)
    try:
        top = list(_boxes(view, 0, len(view)))
        kinds = [k for k, *_ in top]
        if b"moov" not in kinds or b"mdat" not in kinds or kinds.index(b"moov") < kinds.index(b"mdat"):
            return bytes(view)
        moov_box = top[kinds.index(b"moov")]
        moov = bytearray(view[moov_box[1] : moov_box[3]])
        _shift_chunk_offsets(moov, 8, len(moov), len(moov))
    except (ValueError, OverflowError):
        return bytes(view)
    # ftyp (and anything before mdat) first, then moov, then the rest without the old moov.
    first_media = top[kinds.index(b"mdat")][1]
    parts = [view[:first_media], moov]
    for kind, start, _, end in top:
        if start >= first_media and kind != b"moov":
            parts.append(view[start:end])
    return b"".join(parts)
