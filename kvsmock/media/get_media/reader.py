"""The consumer side: parse GetMedia / GetMediaForFragmentList output into fragments.

A GetMedia response is a run of chunks, each a complete MKV file (EBML
header, unknown-size Segment, header, KVS Tags, one Cluster, KVS Tags).
:class:`FragmentReader` is the sans-I/O parser (feed bytes, get
:class:`ReadFragment` objects); :func:`read_fragments` drives it from
bytes, a file, a path or anything with ``.read(n)`` such as a botocore
``StreamingBody``, reading in pieces (:mod:`.sources`), so on a live
response each fragment is yielded as soon as its last byte is in.

A fragment is handed out as soon as it is known to be whole: at the Tags
element carrying ``AWS_KINESISVIDEO_CONTINUATION_TOKEN`` (or an error's
``AWS_KINESISVIDEO_ERROR_ID``), at the next chunk's EBML header, at a second
Cluster in the same Segment (plain MKV files, merged captures), or at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, overload

from ..ebml import ids
from ..ebml.blocks import lace_sizes, read_block_header
from ..ebml.errors import EBMLError, EBMLTruncated
from ..ebml.reading import decode_uint, iter_elements
from ..ebml.walker import EBMLWalker
from ..ebml.walker_events import ElementRead, ElementStart
from ..matroska import tags as tag_names
from ..matroska.header import DEFAULT_TIMECODE_SCALE, parse_info
from ..matroska.schema import WHOLE_BLOCKS
from ..matroska.tags import TagValue, parse_tags
from ..matroska.tracks import TrackInfo, parse_tracks
from .sources import pieces

__all__ = ["Frame", "FragmentReader", "ReadFragment", "read_fragments"]

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame of a fragment."""

    track_number: int
    timecode_ms: int  #: absolute: (cluster timecode + block timecode) in milliseconds
    keyframe: bool
    data: bytes


class _Tag(Generic[_T]):
    """A :class:`ReadFragment` attribute that is one of its tags: the text, or a number made of it.

    None when the tag is absent (or, for a number, empty).
    """

    def __init__(self, name: str, convert: Callable[[str], _T]) -> None:
        self.name = name
        self.convert = convert

    @overload
    def __get__(self, fragment: None, owner: type | None = None) -> _Tag[_T]: ...

    @overload
    def __get__(self, fragment: ReadFragment, owner: type | None = None) -> _T | None: ...

    def __get__(self, fragment: ReadFragment | None, owner: type | None = None) -> _Tag[_T] | _T | None:
        if fragment is None:
            return self
        value = fragment.tags.get(self.name)
        if value is None:
            return None
        text = value if isinstance(value, str) else value.decode("utf-8", "replace")
        if not text and self.convert is not str:
            return None  # an empty value is no number
        return self.convert(text)

    def __set__(self, fragment: ReadFragment, value: object) -> None:
        raise AttributeError(f"{self.name} is read from the fragment's tags")


@dataclass
class ReadFragment:
    """One GetMedia chunk: its tags (KVS and producer), tracks and frames."""

    tags: dict[str, TagValue] = field(default_factory=dict)
    tracks: list[TrackInfo] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    cluster_timecode: int | None = None  #: the Cluster Timecode as stored (timecode units)
    timecode_scale: int = DEFAULT_TIMECODE_SCALE
    truncated: bool = False  #: the input ended inside this fragment

    fragment_number = _Tag(tag_names.FRAGMENT_NUMBER, str)
    server_timestamp = _Tag(tag_names.SERVER_TIMESTAMP, float)
    producer_timestamp = _Tag(tag_names.PRODUCER_TIMESTAMP, float)
    millis_behind_now = _Tag(tag_names.MILLIS_BEHIND_NOW, int)
    continuation_token = _Tag(tag_names.CONTINUATION_TOKEN, str)
    error_id = _Tag(tag_names.ERROR_ID, int)
    error_code = _Tag(tag_names.ERROR_CODE, str)

    @property
    def is_error(self) -> bool:
        """An error record: FRAGMENT_NUMBER without SERVER_TIMESTAMP, or an ERROR_ID."""
        return tag_names.ERROR_ID in self.tags or (
            tag_names.FRAGMENT_NUMBER in self.tags and tag_names.SERVER_TIMESTAMP not in self.tags
        )

    @property
    def has_cluster(self) -> bool:
        return self.cluster_timecode is not None


class FragmentReader:
    """Sans-I/O GetMedia output parser: :meth:`feed` bytes, get the fragments they complete."""

    def __init__(self, *, max_frame_size: int = 256 << 20) -> None:
        self._walker = EBMLWalker(WHOLE_BLOCKS, max_read_size=max_frame_size)
        self._tracks: list[TrackInfo] = []
        self._scale = DEFAULT_TIMECODE_SCALE
        self._current = self._new()
        self._in_cluster = False
        #: Invalid data met after some fragments were completed: raised by the next call.
        self._error: EBMLError | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> list[ReadFragment]:
        """Parse more bytes: the fragments they complete.

        Invalid data raises :class:`~kvsmock.media.ebml.EBMLError`, but only
        after the fragments completed before it have been returned: the call
        that meets it returns them and the next call raises.
        """
        self._raise_pending()
        if not data:
            return []
        self._walker.feed(data)
        out: list[ReadFragment] = []
        try:
            self._run(out)
        except EBMLError as exc:
            if not out:
                raise
            self._error = exc
        return out

    def close(self) -> list[ReadFragment]:
        """End of input: the last fragment, if any.

        A response cut in the middle of an element (as some real captures
        are) still gives its last fragment, with the frames read whole and
        ``truncated`` set.
        """
        self._raise_pending()
        self._walker.close()
        out: list[ReadFragment] = []
        try:
            self._run(out)
        except EBMLTruncated:
            self._current.truncated = True
        except EBMLError as exc:
            if not out:
                raise
            self._error = exc
            return out
        self._emit(out)
        return out

    def _raise_pending(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    # ------------------------------------------------------------ internals

    def _new(self) -> ReadFragment:
        return ReadFragment(tracks=self._tracks, timecode_scale=self._scale)

    def _emit(self, out: list[ReadFragment]) -> None:
        current = self._current
        if current.tags or current.cluster_timecode is not None or current.frames:
            out.append(current)
        self._current = self._new()

    def _run(self, out: list[ReadFragment]) -> None:
        walker = self._walker
        while True:
            event = walker.next_event()
            if event is None:
                return
            if isinstance(event, ElementRead):
                self._read(event, out)
            elif isinstance(event, ElementStart):
                if event.id == ids.CLUSTER:
                    if self._current.cluster_timecode is not None or self._current.frames:
                        self._emit(out)
                    self._in_cluster = True
            elif event.id == ids.CLUSTER:  # ElementEnd
                self._in_cluster = False

    def _read(self, event: ElementRead, out: list[ReadFragment]) -> None:
        element_id = event.id
        current = self._current
        if element_id == ids.SIMPLE_BLOCK:
            if self._in_cluster:
                self._frames(event.payload, None)
        elif element_id == ids.BLOCK_GROUP:
            if self._in_cluster:
                self._block_group(event.payload)
        elif element_id == ids.TIMECODE:
            if self._in_cluster and current.cluster_timecode is None:
                current.cluster_timecode = decode_uint(event.payload)
        elif element_id == ids.TAGS:
            pairs = parse_tags(event.payload)
            names = {name for name, _ in pairs}
            if tag_names.FRAGMENT_NUMBER in names and (
                current.cluster_timecode is not None or tag_names.FRAGMENT_NUMBER in current.tags
            ):
                self._emit(out)  # leading KVS tags of the next fragment in a single Segment
                current = self._current
            current.tags.update(pairs)
            if tag_names.ERROR_ID in names or (tag_names.CONTINUATION_TOKEN in names and current.has_cluster):
                self._emit(out)
        elif element_id == ids.EBML:
            if event.depth == 0:
                self._emit(out)
        elif element_id == ids.INFO:
            self._scale = parse_info(event.payload).timecode_scale
            current.timecode_scale = self._scale
        elif element_id == ids.TRACKS:
            self._tracks = parse_tracks(event.payload)
            current.tracks = self._tracks

    def _block_group(self, payload: memoryview) -> None:
        block = None
        referenced = False
        for element_id, start, end in iter_elements(payload):
            if element_id == ids.BLOCK:
                block = payload[start:end]
            elif element_id == ids.REFERENCE_BLOCK:
                referenced = True
        if block is None:
            raise EBMLError("BlockGroup without a Block")
        self._frames(block, not referenced)

    def _frames(self, block: memoryview, group_keyframe: bool | None) -> None:
        """Add the frames of a SimpleBlock (``group_keyframe`` None) or of a BlockGroup's Block."""
        current = self._current
        header = read_block_header(block, 0, len(block))
        if header is None:
            raise EBMLError("invalid block header")
        track, relative, flags, p = header
        keyframe = bool(flags & 0x80) if group_keyframe is None else group_keyframe
        base = (current.cluster_timecode or 0) + relative
        timecode_ms = base * current.timecode_scale // 1_000_000
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


def read_fragments(source: Any, *, read_size: int = 1 << 16) -> Iterator[ReadFragment]:
    """Yield the fragments of GetMedia-style MKV output as they are parsed.

    ``source``: bytes, a path, a binary file, any object with ``.read(n)``
    (botocore ``StreamingBody``), or an iterable of bytes. Also reads plain
    MKV files (one fragment per Cluster, no KVS tags). On a live GetMedia
    response each fragment is yielded as soon as its last byte has arrived
    (``read_size`` is the most read at once, not an amount waited for).
    """
    reader = FragmentReader()
    for piece in pieces(source, read_size):
        yield from reader.feed(piece)
    yield from reader.close()
    reader.close()  # raises what the last call met after the fragments it returned, if anything
