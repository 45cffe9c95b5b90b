"""The consumer side: parse GetMedia / GetMediaForFragmentList output into fragments.

A GetMedia response is a run of chunks, each a complete MKV file (EBML
header, unknown-size Segment, header, KVS Tags, one Cluster, KVS Tags).
:class:`FragmentReader` is the sans-I/O parser (feed bytes, get
:class:`ReadFragment` objects); :func:`read_fragments` drives it from
bytes, a file, a path or anything with ``.read(n)`` such as a botocore
``StreamingBody``, reading in pieces. On a live response it takes whatever
bytes have arrived (``read1``; for a ``StreamingBody`` its urllib3
response's ``read1``), never waiting for a full piece, so each fragment is
yielded as soon as its last byte is in.

A fragment is handed out as soon as it is known to be whole: at the Tags
element carrying ``AWS_KINESISVIDEO_CONTINUATION_TOKEN`` (or an error's
``AWS_KINESISVIDEO_ERROR_ID``), at the next chunk's EBML header, at a second
Cluster in the same Segment (plain MKV files, merged captures), or at the end.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import ebml
from .ebml import EBMLError, EBMLTruncated, decode_uint, iter_elements, lace_sizes, read_vint
from .matroska import DEFAULT_TIMECODE_SCALE, TrackInfo, parse_info, parse_tracks
from .tags import (
    CONTINUATION_TOKEN,
    ERROR_CODE,
    ERROR_ID,
    FRAGMENT_NUMBER,
    MILLIS_BEHIND_NOW,
    PRODUCER_TIMESTAMP,
    SERVER_TIMESTAMP,
    TagValue,
    parse_tags,
)
from .walker import EBMLWalker, ElementRead, ElementStart, Kind, Schema

__all__ = ["Frame", "FragmentReader", "ReadFragment", "read_fragments"]


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a fragment."""

    track_number: int
    timecode_ms: int  #: absolute: (cluster timecode + block timecode) in milliseconds
    keyframe: bool
    data: bytes


@dataclass
class ReadFragment:
    """One GetMedia chunk: its tags (KVS and producer), tracks and frames."""

    tags: dict[str, TagValue] = field(default_factory=dict)
    tracks: list[TrackInfo] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    cluster_timecode: int | None = None  #: the Cluster Timecode as stored (timecode units)
    timecode_scale: int = DEFAULT_TIMECODE_SCALE
    truncated: bool = False  #: the input ended inside this fragment

    def _text(self, name: str) -> str | None:
        value = self.tags.get(name)
        if value is None:
            return None
        return value if isinstance(value, str) else value.decode("utf-8", "replace")

    @property
    def fragment_number(self) -> str | None:
        return self._text(FRAGMENT_NUMBER)

    @property
    def server_timestamp(self) -> float | None:
        value = self._text(SERVER_TIMESTAMP)
        return float(value) if value else None

    @property
    def producer_timestamp(self) -> float | None:
        value = self._text(PRODUCER_TIMESTAMP)
        return float(value) if value else None

    @property
    def millis_behind_now(self) -> int | None:
        value = self._text(MILLIS_BEHIND_NOW)
        return int(value) if value else None

    @property
    def continuation_token(self) -> str | None:
        return self._text(CONTINUATION_TOKEN)

    @property
    def error_id(self) -> int | None:
        value = self._text(ERROR_ID)
        return int(value) if value else None

    @property
    def error_code(self) -> str | None:
        return self._text(ERROR_CODE)

    @property
    def is_error(self) -> bool:
        """An error record: FRAGMENT_NUMBER without SERVER_TIMESTAMP, or an ERROR_ID."""
        return ERROR_ID in self.tags or (FRAGMENT_NUMBER in self.tags and SERVER_TIMESTAMP not in self.tags)

    @property
    def has_cluster(self) -> bool:
        return self.cluster_timecode is not None



SCHEMA = Schema(
    kinds={
        ebml.EBML: Kind.READ,
        ebml.SEGMENT: Kind.MASTER,
        ebml.INFO: Kind.READ,
        ebml.TRACKS: Kind.READ,
        ebml.TAGS: Kind.READ,
        ebml.CLUSTER: Kind.MASTER,
        ebml.TIMECODE: Kind.READ,
        ebml.SIMPLE_BLOCK: Kind.READ,
        ebml.BLOCK_GROUP: Kind.READ,
    },
    terminators={ebml.SEGMENT: frozenset({ebml.EBML, ebml.SEGMENT}), ebml.CLUSTER: ebml.CLUSTER_ENDERS},
)


class FragmentReader:
    """Sans-I/O GetMedia output parser: :meth:`feed` bytes, get the fragments they complete."""

    def __init__(self, *, max_frame_size: int = 256 << 20) -> None:
        self._walker = EBMLWalker(SCHEMA, max_read_size=max_frame_size)
        self._tracks: list[TrackInfo] = []
        self._scale = DEFAULT_TIMECODE_SCALE
        self._current = self._new()
        self._in_cluster = False

    def feed(self, data: bytes | bytearray | memoryview) -> list[ReadFragment]:
        """Parse more bytes. Raises :class:`~kvsmock.media.ebml.EBMLError` on invalid data."""
        if not data:
            return []
        self._walker.feed(data)
        return self._run()

    def close(self) -> list[ReadFragment]:
        """End of input: the last fragment, if any.

        A response cut in the middle of an element (as some real captures
        are) still gives its last fragment, with the frames read whole and
        ``truncated`` set.
        """
        self._walker.close()
        try:
            out = self._run()
        except EBMLTruncated:
            out = []
            self._current.truncated = True
        self._emit(out)
        return out

    # ------------------------------------------------------------ internals

    def _new(self) -> ReadFragment:
        return ReadFragment(tracks=self._tracks, timecode_scale=self._scale)

    def _emit(self, out: list[ReadFragment]) -> None:
        current = self._current
        if current.tags or current.cluster_timecode is not None or current.frames:
            out.append(current)
        self._current = self._new()

    def _run(self) -> list[ReadFragment]:
        out: list[ReadFragment] = []
        walker = self._walker
        while True:
            event = walker.next_event()
            if event is None:
                return out
            cls = event.__class__
            if cls is ElementRead:
                self._read(event, out)
            elif cls is ElementStart:
                if event.id == ebml.CLUSTER:
                    if self._current.cluster_timecode is not None or self._current.frames:
                        self._emit(out)
                    self._in_cluster = True
            elif event.id == ebml.CLUSTER:  # ElementEnd
                self._in_cluster = False

    def _read(self, event: ElementRead, out: list[ReadFragment]) -> None:
        element_id = event.id
        current = self._current
        if element_id == ebml.SIMPLE_BLOCK:
            if self._in_cluster:
                self._frames(event.payload, None)
        elif element_id == ebml.BLOCK_GROUP:
            if self._in_cluster:
                self._block_group(event.payload)
        elif element_id == ebml.TIMECODE:
            if self._in_cluster and current.cluster_timecode is None:
                current.cluster_timecode = decode_uint(event.payload)
        elif element_id == ebml.TAGS:
            pairs = parse_tags(event.payload)
            names = {name for name, _ in pairs}
            if FRAGMENT_NUMBER in names and (current.cluster_timecode is not None or FRAGMENT_NUMBER in current.tags):
                self._emit(out)  # leading KVS tags of the next fragment in a single Segment
                current = self._current
            current.tags.update(pairs)
            if ERROR_ID in names or (CONTINUATION_TOKEN in names and current.cluster_timecode is not None):
                self._emit(out)
        elif element_id == ebml.EBML:
            if event.depth == 0:
                self._emit(out)
        elif element_id == ebml.INFO:
            self._scale = parse_info(event.payload).timecode_scale
            current.timecode_scale = self._scale
        elif element_id == ebml.TRACKS:
            self._tracks = parse_tracks(event.payload)
            current.tracks = self._tracks

    def _block_group(self, payload: memoryview) -> None:
        block = None
        referenced = False
        for element_id, start, end in iter_elements(payload):
            if element_id == ebml.BLOCK:
                block = payload[start:end]
            elif element_id == ebml.REFERENCE_BLOCK:
                referenced = True
        if block is None:
            raise EBMLError("BlockGroup without a Block")
        self._frames(block, not referenced)

    def _frames(self, block: memoryview, group_keyframe: bool | None) -> None:
        """Add the frames of a SimpleBlock (``group_keyframe`` None) or of a BlockGroup's Block."""
        current = self._current
        got = read_vint(block, 0)
        if got is None or got[0] is None or got[1] + 3 > len(block):
            raise EBMLError("invalid block header")
        track, p = got[0], got[1]
        relative = int.from_bytes(block[p : p + 2], "big", signed=True)
        flags = block[p + 2]
        keyframe = bool(flags & 0x80) if group_keyframe is None else group_keyframe
        p += 3
        scale = current.timecode_scale
        base = (current.cluster_timecode or 0) + relative
        timecode_ms = base * scale // 1_000_000
        if not flags & 0x06:
            current.frames.append(Frame(track, timecode_ms, keyframe, bytes(block[p:])))
            return
        try:
            sizes, p = lace_sizes(block, p, flags & 0x06)
        except IndexError:
            raise EBMLError("laced block shorter than its lace header") from None
        step = 0
        for track_info in current.tracks:
            if track_info.number == track and track_info.default_duration:
                step = track_info.default_duration
        for i, size in enumerate(sizes):
            current.frames.append(
                Frame(track, timecode_ms + (i * step) // 1_000_000, keyframe, bytes(block[p : p + size]))
            )
            p += size


def _read_available(source):
    """A ``read(n)`` of ``source`` that returns what has arrived (1 to n bytes; b"" at the end).

    A botocore ``StreamingBody.read(n)`` (and urllib3's ``read(n)``) wait
    for all n bytes, which would hold back a fragment that has arrived until
    more of the next one comes; ``read1`` returns after one read of the
    connection. Other sources are read with their ``read(n)``, which may
    return short reads.
    """
    raw = getattr(source, "_raw_stream", None)  # botocore StreamingBody: the urllib3 response inside
    if raw is not None and callable(getattr(raw, "read1", None)):
        return _StreamingBodyRead1(source, raw)
    read1 = getattr(source, "read1", None)
    if callable(read1):
        return read1
    return source.read


class _StreamingBodyRead1:
    """``read1`` for a botocore ``StreamingBody``, raising botocore's errors as its ``read`` does."""

    def __init__(self, body, raw) -> None:
        self._body = body
        self._raw = raw

    def __call__(self, n: int) -> bytes:
        try:
            piece = self._raw.read1(n)
        except Exception as exc:
            converted = _botocore_error(exc)
            if converted is None:
                raise
            raise converted from exc
        if piece is None:
            return b""
        if isinstance(getattr(self._body, "_amount_read", None), int):
            self._body._amount_read += len(piece)  # keeps StreamingBody's length check right
        return piece


def _botocore_error(exc: Exception) -> Exception | None:
    """The botocore exception ``StreamingBody.read`` raises for a urllib3 error, if any."""
    try:
        from botocore.exceptions import ReadTimeoutError, ResponseStreamingError
        from urllib3.exceptions import ProtocolError
        from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError
    except ImportError:  # pragma: no cover - botocore always brings urllib3
        return None
    if isinstance(exc, Urllib3ReadTimeoutError):
        return ReadTimeoutError(endpoint_url=exc.url, error=exc)
    if isinstance(exc, ProtocolError):
        return ResponseStreamingError(error=exc)
    return None


def _pieces(source, read_size: int) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
        return
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            yield from _pieces(file, read_size)
        return
    if getattr(source, "read", None) is not None:
        read = _read_available(source)
        while True:
            piece = read(read_size)
            if not piece:
                return
            yield piece
        return
    if isinstance(source, Iterable):
        yield from source
        return
    raise TypeError(f"cannot read fragments from {type(source).__name__}")


def read_fragments(source, *, read_size: int = 1 << 16) -> Iterator[ReadFragment]:
    """Yield the fragments of GetMedia-style MKV output as they are parsed.

    ``source``: bytes, a path, a binary file, any object with ``.read(n)``
    (botocore ``StreamingBody``), or an iterable of bytes. Also reads plain
    MKV files (one fragment per Cluster, no KVS tags). On a live GetMedia
    response each fragment is yielded as soon as its last byte has arrived
    (``read_size`` is the most read at once, not an amount waited for).
    """
    reader = FragmentReader()
    for piece in _pieces(source, read_size):
        yield from reader.feed(piece)
    yield from reader.close()
