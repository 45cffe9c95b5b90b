"""The PutMedia body parser: cuts an uploaded MKV stream into KVS fragments.

:class:`Fragmenter` is sans-I/O: :meth:`Fragmenter.feed` it the request body
in pieces split anywhere, and it returns typed events (h11 style):

* :class:`HeaderParsed` once everything before the first Cluster is known;
* :class:`FragmentStarted` as soon as a Cluster's Timecode has been read
  (the moment a BUFFERING ACK can be sent);
* :class:`FragmentComplete` with a :class:`Fragment` once the fragment can
  no longer change;
* :class:`FragmentTags` with producer Tags that arrived after their
  fragment was already complete (after a known-size Cluster);
* :class:`MediaError` with a PutMedia ErrorId; after it the parser ignores
  further data, and fragments already emitted stay valid.

When a fragment is complete
    Each Cluster is one fragment; producer ``Tags`` that follow a Cluster
    belong to it. A fragment is complete as soon as it can be known to be:

    * a known-size Cluster: at its last byte. Producer Tags that follow it
      (up to the next Cluster) come as :class:`FragmentTags` events for it;
    * an unknown-size Cluster: its end is only seen at the next element,
      and the Tags after it are collected into ``Fragment.tags_after``
      until a Tags element holding ``AWS_KINESISVIDEO_END_OF_FRAGMENT`` (the
      official producer SDK closes every fragment with one; completed as soon
      as that Tags element has been read), or the next element header that
      is not Tags, Void, CRC-32 or another skippable Segment child: the next
      Cluster, a second EBML header (which is then an error), the end of a
      known-size Segment, or :meth:`Fragmenter.close`.

    Events never depend on how the body was split.

Duration
    ``Fragment.duration`` = last frame time - first frame time + one frame
    duration, in timecode units. The frame duration is the last frame's
    BlockDuration if it has one, else its track's DefaultDuration, else the
    average frame interval of that track in this fragment (0 for a single frame).

Cost
    Only element headers and block headers are looked at; frame payloads
    are skipped by size. The Cluster is kept as the chunks it arrived in and
    joined once into ``Fragment.cluster_bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from . import ebml
from .ebml import EBMLError, decode_uint
from .matroska import DEFAULT_TIMECODE_SCALE, TrackInfo, non_utf8_text, parse_doc_type, parse_info, parse_tracks
from .tags import END_OF_FRAGMENT, TagValue, parse_tags
from .walker import (
    BlockHeader,
    EBMLWalker,
    ElementEnd,
    ElementRead,
    ElementSkipped,
    ElementStart,
    Kind,
    Schema,
)

__all__ = [
    "ErrorId",
    "Event",
    "Fragment",
    "FragmentComplete",
    "FragmentStarted",
    "FragmentTags",
    "Fragmenter",
    "HeaderParsed",
    "MediaError",
]

MB = 1024 * 1024


class ErrorId(IntEnum):
    """PutMedia ERROR ACK ids (spec 1.5); the member name is the ErrorCode string."""

    STREAM_READ_ERROR = 4000
    MAX_FRAGMENT_SIZE_REACHED = 4001
    MAX_FRAGMENT_DURATION_REACHED = 4002
    MAX_CONNECTION_DURATION_REACHED = 4003
    FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS = 4004
    MORE_THAN_ONE_TRACK_FOUND = 4005
    INVALID_MKV_DATA = 4006
    INVALID_PRODUCER_TIMESTAMP = 4007
    STREAM_NOT_ACTIVE = 4008
    FRAGMENT_METADATA_LIMIT_REACHED = 4009
    TRACK_NUMBER_MISMATCH = 4010
    FRAMES_MISSING_FOR_TRACK = 4011
    MORE_THAN_ALLOWED_TRACKS_FOUND = 4012
    KMS_KEY_ACCESS_DENIED = 4500
    KMS_KEY_DISABLED = 4501
    KMS_KEY_VALIDATION_ERROR = 4502
    KMS_KEY_UNAVAILABLE = 4503
    KMS_KEY_INVALID_USAGE = 4504
    KMS_KEY_INVALID_STATE = 4505
    KMS_KEY_NOT_FOUND = 4506
    STREAM_DELETED = 4507
    INTERNAL_ERROR = 5000
    ARCHIVAL_ERROR = 5001


# ------------------------------------------------------------------ events


@dataclass(frozen=True, slots=True)
class HeaderParsed:
    """Everything before the first Cluster: replayed in front of every GetMedia chunk."""

    ebml_header: bytes  #: the whole EBML header element as uploaded
    header_bytes: bytes  #: Segment children before the first Cluster (SeekHead, Void, Info, Tracks, Tags...)
    tracks: list[TrackInfo]
    timecode_scale: int  #: nanoseconds per timecode unit
    doc_type: str = "matroska"


@dataclass(frozen=True, slots=True)
class FragmentStarted:
    """A Cluster's Timecode has been read: a fragment is being received."""

    timecode: int  #: the Cluster Timecode as sent
    offset: int = 0  #: byte offset of the Cluster in the body


@dataclass(frozen=True, slots=True)
class Fragment:
    """One Cluster as uploaded, with what the service records about it."""

    cluster_bytes: bytes  #: the Cluster element exactly as uploaded (known- or unknown-size)
    tags_after: bytes  #: producer Tags elements that followed it, as uploaded
    timecode: int  #: Cluster Timecode as sent (timecode units)
    duration: int  #: timecode units (see the module docstring)
    frame_count: int
    keyframe: bool  #: whether the first frame is a keyframe
    track_numbers: frozenset[int]
    frames_per_track: dict[int, int]
    tags: list[tuple[str, TagValue]]  #: (name, value) parsed from tags_after, END_OF_FRAGMENT left out
    first_frame_time: int  #: earliest frame time (cluster timecode + block timecode)
    last_frame_time: int  #: latest frame time
    offset: int = 0  #: byte offset of the Cluster in the body
    #: False when producer Tags may still follow (a known-size Cluster): they come as FragmentTags events.
    tags_final: bool = True

    @property
    def size(self) -> int:
        """Bytes of the Cluster element."""
        return len(self.cluster_bytes)


@dataclass(frozen=True, slots=True)
class FragmentComplete:
    """A fragment is whole and valid."""

    fragment: Fragment


@dataclass(frozen=True, slots=True)
class FragmentTags:
    """Producer Tags for the fragment completed last (it ended with its known-size Cluster)."""

    timecode: int  #: Cluster Timecode of that fragment
    data: bytes  #: the Tags element as uploaded
    tags: list[tuple[str, TagValue]]  #: (name, value), END_OF_FRAGMENT left out
    last: bool = False  #: it held END_OF_FRAGMENT: no more Tags follow for this fragment


@dataclass(frozen=True, slots=True)
class MediaError:
    """The body broke a PutMedia rule; parsing stopped here.

    ``timecode`` is the Cluster Timecode of the fragment concerned, when there is one.
    """

    code: int
    name: str
    message: str
    timecode: int | None = None

    @classmethod
    def of(cls, error: ErrorId, message: str, timecode: int | None = None) -> MediaError:
        return cls(int(error), error.name, message, timecode)


Event = HeaderParsed | FragmentStarted | FragmentComplete | FragmentTags | MediaError


# ------------------------------------------------------------------ schema


SCHEMA = Schema(
    kinds={
        ebml.EBML: Kind.READ,
        ebml.SEGMENT: Kind.MASTER,
        ebml.INFO: Kind.READ,
        ebml.TRACKS: Kind.READ,
        ebml.TAGS: Kind.READ,
        ebml.CLUSTER: Kind.MASTER,
        ebml.TIMECODE: Kind.READ,
        ebml.SIMPLE_BLOCK: Kind.BLOCK,
        ebml.BLOCK_GROUP: Kind.MASTER,
        ebml.BLOCK: Kind.BLOCK,
        ebml.BLOCK_DURATION: Kind.READ,
    },
    terminators={
        ebml.SEGMENT: frozenset({ebml.EBML, ebml.SEGMENT}),
        ebml.CLUSTER: ebml.CLUSTER_ENDERS,
    },
)

_SKIPPABLE_TOP = frozenset({ebml.VOID, ebml.CRC32})
_SKIPPABLE_IN_SEGMENT = frozenset(
    {ebml.VOID, ebml.CRC32, ebml.CUES, ebml.SEEK_HEAD, ebml.CHAPTERS, ebml.ATTACHMENTS}
)
_DOC_TYPES = ("matroska", "webm")

# parser states
_EXPECT_EBML, _EXPECT_SEGMENT, _HEADER, _CLUSTERS, _DONE, _FAILED = range(6)


class _MediaFailure(Exception):
    def __init__(self, error: MediaError):
        self.error = error


def _check_text(payload: bytes | memoryview, timecode: int | None) -> None:
    """Refuse text that is not UTF-8: stored, it could never be packaged (GetClip, HLS, DASH, GetImages)."""
    bad = non_utf8_text(payload)
    if bad is not None:
        name = ebml.ID_NAMES.get(bad, f"0x{bad:X}")
        raise _fail(ErrorId.INVALID_MKV_DATA, f"the {name} element is not valid UTF-8", timecode)


def _fail(error: ErrorId, message: str, timecode: int | None = None) -> _MediaFailure:
    return _MediaFailure(MediaError.of(error, message, timecode))


@dataclass(slots=True)
class _Cluster:
    """What is known so far about the Cluster being received."""

    offset: int
    known_size: bool = False
    timecode: int | None = None
    frame_count: int = 0
    keyframe: bool = False
    # per track: [frames, earliest time, latest time]
    per_track: dict[int, list[int]] = field(default_factory=dict)
    first_time: int | None = None
    last_time: int | None = None
    last_track: int = 0
    last_duration: int | None = None
    # BlockGroup being read: [track, timecode, frames, duration, has ReferenceBlock]
    group: list | None = None


@dataclass(slots=True)
class _Pending:
    """A Cluster that has ended, waiting for the producer Tags that may follow it."""

    cluster: _Cluster
    cluster_bytes: bytes
    tags_after: list[bytes] = field(default_factory=list)
    tags: list[tuple[str, TagValue]] = field(default_factory=list)


@dataclass(slots=True)
class _Trailing:
    """A fragment completed at the end of its known-size Cluster: later Tags are still its own."""

    timecode: int
    tag_count: int = 0


class Fragmenter:
    """Incremental PutMedia body parser (see the module docstring for the rules).

    Limits are constructor parameters so tests and stream settings can vary them:
    ``max_fragment_size`` bytes per Cluster (50 MB), ``max_fragment_duration``
    seconds (20), ``max_tracks`` (3), ``max_tags`` producer tags per fragment
    (10), ``max_tag_name`` / ``max_tag_value`` bytes (128 / 256).
    """

    def __init__(
        self,
        *,
        max_fragment_size: int = 50 * MB,
        max_fragment_duration: float = 20.0,
        max_tracks: int = 3,
        max_tags: int = 10,
        max_tag_name: int = 128,
        max_tag_value: int = 256,
        max_header_size: int = 16 * MB,
    ) -> None:
        self.max_fragment_size = max_fragment_size
        self.max_fragment_duration = max_fragment_duration
        self.max_tracks = max_tracks
        self.max_tags = max_tags
        self.max_tag_name = max_tag_name
        self.max_tag_value = max_tag_value
        self._walker = EBMLWalker(SCHEMA, max_read_size=max_header_size)
        self._state = _EXPECT_EBML
        self._ebml_header = b""
        self._doc_type = ""
        self._header_start = 0
        self._tracks: list[TrackInfo] = []
        self._track_numbers: frozenset[int] = frozenset()
        self._default_durations: dict[int, int] = {}
        self._timecode_scale = DEFAULT_TIMECODE_SCALE
        self._max_duration_units = 0.0
        self._cluster: _Cluster | None = None
        self._pending: _Pending | None = None
        self._trailing: _Trailing | None = None
        self._previous_last_time: int | None = None
        self.header: HeaderParsed | None = None  #: set once the header is known
        self.fragments_completed = 0

    # ------------------------------------------------------------ public API

    @property
    def failed(self) -> bool:
        """True once a MediaError has been emitted."""
        return self._state == _FAILED

    @property
    def bytes_received(self) -> int:
        return self._walker.received

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse more of the body; returns the events it completes."""
        if self._state == _FAILED or not data:
            return []
        self._walker.feed(data)
        return self._run()

    def close(self) -> list[Event]:
        """The body has ended: complete what is open, or report truncation."""
        if self._state == _FAILED:
            return []
        self._walker.close()
        out = self._run()
        if self._state == _HEADER:
            out.append(self._header_parsed(self._walker.position))
            self._state = _DONE
        return out

    # ------------------------------------------------------------ internals

    def _run(self) -> list[Event]:
        out: list[Event] = []
        walker = self._walker
        try:
            while True:
                event = walker.next_event()
                if event is None:
                    break
                cluster = self._cluster
                if event.__class__ is BlockHeader and cluster is not None:
                    self._block(cluster, event)
                else:
                    self._handle(event, out)
        except EBMLError as exc:
            self._state = _FAILED
            timecode = self._cluster.timecode if self._cluster else None
            out.append(MediaError.of(ErrorId.INVALID_MKV_DATA, str(exc), timecode))
        except _MediaFailure as failure:
            self._state = _FAILED
            out.append(failure.error)
        if self._state == _FAILED:
            self._cluster = self._pending = self._trailing = None
            self._walker.retain_from = None
        return out

    def _handle(self, event, out: list[Event]) -> None:
        cluster = self._cluster
        if cluster is not None:
            self._in_cluster(cluster, event, out)
            return
        state = self._state
        if state == _CLUSTERS:
            self._between_clusters(event, out)
        elif state == _HEADER:
            self._in_header(event, out)
        elif state == _EXPECT_EBML:
            self._expect_ebml(event)
        elif state == _EXPECT_SEGMENT:
            self._expect_segment(event)
        else:  # _DONE: after a known-size Segment
            if event.depth == 0 and event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
                return
            if event.id in (ebml.EBML, ebml.SEGMENT):
                raise _fail(ErrorId.INVALID_MKV_DATA, "a second EBML header/Segment in one PutMedia body")
            raise _fail(ErrorId.INVALID_MKV_DATA, f"element 0x{event.id:X} after the end of the Segment")

    def _expect_ebml(self, event) -> None:
        if event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if event.__class__ is not ElementRead or event.id != ebml.EBML:
            raise _fail(ErrorId.INVALID_MKV_DATA, "the body does not start with an EBML header")
        self._doc_type = parse_doc_type(event.payload)
        if self._doc_type not in _DOC_TYPES:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"DocType {self._doc_type!r} is not Matroska")
        self._ebml_header = event.data
        self._state = _EXPECT_SEGMENT

    def _expect_segment(self, event) -> None:
        if event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if event.__class__ is not ElementStart or event.id != ebml.SEGMENT:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"expected a Segment, found element 0x{event.id:X}")
        self._header_start = event.offset + event.header_size
        self._walker.retain_from = self._header_start
        self._state = _HEADER

    def _in_header(self, event, out: list[Event]) -> None:
        cls = event.__class__
        if cls is ElementStart and event.id == ebml.CLUSTER:
            out.append(self._header_parsed(event.offset))
            self._state = _CLUSTERS
            self._start_cluster(event)
            return
        if cls is ElementEnd:  # end of the Segment before any Cluster
            out.append(self._header_parsed(event.end))
            self._state = _DONE
            return
        if event.depth != 1:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} at offset {event.offset}")
        if cls is ElementRead:
            if event.id in (ebml.INFO, ebml.TRACKS, ebml.TAGS):
                _check_text(event.payload, None)
            if event.id == ebml.INFO:
                self._timecode_scale = parse_info(event.payload).timecode_scale
            elif event.id == ebml.TRACKS:
                self._set_tracks(parse_tracks(event.payload))
        elif cls is not ElementSkipped:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} in the Segment header")

    def _set_tracks(self, tracks: list[TrackInfo]) -> None:
        if len(tracks) > self.max_tracks:
            raise _fail(
                ErrorId.MORE_THAN_ALLOWED_TRACKS_FOUND,
                f"{len(tracks)} tracks declared, at most {self.max_tracks} allowed",
            )
        self._tracks = tracks
        self._track_numbers = frozenset(t.number for t in tracks)
        self._default_durations = {t.number: t.default_duration for t in tracks if t.default_duration}

    def _header_parsed(self, first_cluster_offset: int) -> HeaderParsed:
        header_bytes = self._walker.bytes_between(self._header_start, first_cluster_offset)
        self._walker.retain_from = None
        self._max_duration_units = self.max_fragment_duration * 1e9 / self._timecode_scale
        self.header = HeaderParsed(
            self._ebml_header, header_bytes, list(self._tracks), self._timecode_scale, self._doc_type
        )
        return self.header

    def _between_clusters(self, event, out: list[Event]) -> None:
        cls = event.__class__
        if cls is ElementStart and event.id == ebml.CLUSTER:
            self._complete_pending(out)
            self._start_cluster(event)
            return
        if cls is ElementEnd:  # the Segment ended
            self._complete_pending(out)
            self._state = _DONE
            return
        if event.depth == 1:
            if cls is ElementRead and event.id == ebml.TAGS:
                self._producer_tags(event, out)
                return
            if cls is ElementSkipped and (event.id in _SKIPPABLE_IN_SEGMENT or event.id not in ebml.ID_NAMES):
                return
            raise _fail(ErrorId.INVALID_MKV_DATA, f"element 0x{event.id:X} not allowed after the first Cluster")
        if event.depth == 0 and cls is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if event.depth == 0 and event.id in (ebml.EBML, ebml.SEGMENT):
            raise _fail(ErrorId.INVALID_MKV_DATA, "a second EBML header/Segment in one PutMedia body")
        raise _fail(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} at offset {event.offset}")

    def _start_cluster(self, event: ElementStart) -> None:
        if event.size is not None and event.header_size + event.size > self.max_fragment_size:
            raise _fail(
                ErrorId.MAX_FRAGMENT_SIZE_REACHED,
                f"Cluster of {event.header_size + event.size} bytes exceeds {self.max_fragment_size}",
            )
        self._trailing = None
        self._cluster = _Cluster(event.offset, event.size is not None)
        self._walker.retain_from = event.offset

    def _in_cluster(self, cluster: _Cluster, event, out: list[Event]) -> None:
        cls = event.__class__
        if cls is ElementEnd:
            if event.id == ebml.BLOCK_GROUP:
                self._end_group(cluster)
            else:
                self._end_cluster(cluster, event.end, out)
            return
        end = event.end if cls is not ElementStart else event.offset
        if end - cluster.offset > self.max_fragment_size:
            raise _fail(
                ErrorId.MAX_FRAGMENT_SIZE_REACHED,
                f"fragment exceeds {self.max_fragment_size} bytes",
                cluster.timecode,
            )
        element_id = event.id
        if cls is ElementRead:
            if element_id == ebml.TIMECODE and cluster.group is None:
                self._timecode(cluster, decode_uint(event.payload), event.offset, out)
            elif element_id == ebml.BLOCK_DURATION and cluster.group is not None:
                cluster.group[3] = decode_uint(event.payload)
            return
        if cls is ElementStart:
            if element_id == ebml.BLOCK_GROUP and cluster.group is None:
                if cluster.timecode is None:
                    raise _fail(ErrorId.INVALID_MKV_DATA, f"BlockGroup before the Cluster Timecode at {event.offset}")
                cluster.group = [None, 0, 0, None, False]
                return
            raise _fail(ErrorId.INVALID_MKV_DATA, f"element 0x{element_id:X} misplaced at offset {event.offset}")
        # ElementSkipped: Position, PrevSize, Void, CRC-32, ReferenceBlock, unknown elements...
        if element_id == ebml.REFERENCE_BLOCK and cluster.group is not None:
            cluster.group[4] = True

    def _timecode(self, cluster: _Cluster, timecode: int, offset: int, out: list[Event]) -> None:
        if cluster.timecode is not None:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"second Timecode in a Cluster at offset {offset}")
        cluster.timecode = timecode
        previous = self._previous_last_time
        if previous is not None and timecode <= previous:
            raise _fail(
                ErrorId.FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS,
                f"fragment timecode {timecode} is not later than the previous fragment's last frame {previous}",
                timecode,
            )
        out.append(FragmentStarted(timecode, cluster.offset))

    def _block(self, cluster: _Cluster, block: BlockHeader) -> None:
        if block.end - cluster.offset > self.max_fragment_size:
            raise _fail(
                ErrorId.MAX_FRAGMENT_SIZE_REACHED,
                f"fragment exceeds {self.max_fragment_size} bytes",
                cluster.timecode,
            )
        group = cluster.group
        if block.id == ebml.BLOCK:
            if group is None or group[0] is not None:
                raise _fail(ErrorId.INVALID_MKV_DATA, f"misplaced Block at offset {block.offset}")
            group[0], group[1], group[2] = block.track, block.timecode, block.frames
            return
        if group is not None:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"SimpleBlock inside a BlockGroup at offset {block.offset}")
        self._frame(cluster, block.track, block.timecode, bool(block.flags & 0x80), block.frames, None, block.offset)

    def _end_group(self, cluster: _Cluster) -> None:
        track, timecode, frames, duration, referenced = cluster.group
        cluster.group = None
        if track is None:
            raise _fail(ErrorId.INVALID_MKV_DATA, "BlockGroup without a Block", cluster.timecode)
        self._frame(cluster, track, timecode, not referenced, frames, duration, None)

    def _frame(
        self,
        cluster: _Cluster,
        track: int,
        relative: int,
        keyframe: bool,
        frames: int,
        duration: int | None,
        offset: int | None,
    ) -> None:
        base = cluster.timecode
        if base is None:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"frame before the Cluster Timecode at offset {offset}")
        if track not in self._track_numbers:
            raise _fail(
                ErrorId.TRACK_NUMBER_MISMATCH,
                f"frame for track {track}, which Tracks does not declare",
                base,
            )
        time = base + relative
        previous = self._previous_last_time
        if previous is not None and time <= previous:
            raise _fail(
                ErrorId.FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS,
                f"frame time {time} is not later than the previous fragment's last frame {previous}",
                base,
            )
        stats = cluster.per_track.get(track)
        if stats is None:
            cluster.per_track[track] = [frames, time, time]
        else:
            stats[0] += frames
            if time < stats[1]:
                stats[1] = time
            if time > stats[2]:
                stats[2] = time
        if cluster.frame_count == 0:
            cluster.keyframe = keyframe
            cluster.first_time = cluster.last_time = time
            cluster.last_track, cluster.last_duration = track, duration
        else:
            if time < cluster.first_time:
                cluster.first_time = time
            if time >= cluster.last_time:
                cluster.last_time = time
                cluster.last_track, cluster.last_duration = track, duration
            if cluster.last_time - cluster.first_time > self._max_duration_units:
                raise self._too_long(cluster, cluster.last_time - cluster.first_time)
        cluster.frame_count += frames

    def _too_long(self, cluster: _Cluster, duration: int) -> _MediaFailure:
        seconds = duration * self._timecode_scale / 1e9
        return _fail(
            ErrorId.MAX_FRAGMENT_DURATION_REACHED,
            f"fragment lasts {seconds:.3f} s, more than {self.max_fragment_duration:g} s",
            cluster.timecode,
        )

    def _end_cluster(self, cluster: _Cluster, end: int, out: list[Event]) -> None:
        if cluster.timecode is None:
            raise _fail(ErrorId.INVALID_MKV_DATA, f"Cluster at offset {cluster.offset} has no Timecode")
        if end - cluster.offset > self.max_fragment_size:
            raise _fail(ErrorId.MAX_FRAGMENT_SIZE_REACHED, "fragment too large", cluster.timecode)
        cluster_bytes = self._walker.bytes_between(cluster.offset, end)
        self._walker.retain_from = None
        self._cluster = None
        self._pending = _Pending(cluster, cluster_bytes)
        if cluster.known_size:  # nothing later can change it: complete at its last byte
            self._complete_pending(out, tags_final=False)
            self._trailing = _Trailing(cluster.timecode)

    def _producer_tags(self, event: ElementRead, out: list[Event]) -> None:
        pending, trailing = self._pending, self._trailing
        if pending is None and trailing is None:
            # Tags after a fragment the END_OF_FRAGMENT marker already closed: nothing to attach them to.
            return
        timecode = pending.cluster.timecode if pending is not None else trailing.timecode
        count = len(pending.tags) if pending is not None else trailing.tag_count
        _check_text(event.payload, timecode)
        pairs = parse_tags(event.payload)
        end_marker = False
        tags = []
        for name, value in pairs:
            if name == END_OF_FRAGMENT:
                end_marker = True
                continue
            tags.append((name, value))
            name_len = len(name.encode("utf-8"))
            value_len = len(value) if isinstance(value, bytes) else len(value.encode("utf-8"))
            if name_len > self.max_tag_name:
                raise _fail(
                    ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                    f"tag name of {name_len} bytes (max {self.max_tag_name})",
                    timecode,
                )
            if value_len > self.max_tag_value:
                raise _fail(
                    ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                    f"tag {name!r} value of {value_len} bytes (max {self.max_tag_value})",
                    timecode,
                )
            if count + len(tags) > self.max_tags:
                raise _fail(
                    ErrorId.FRAGMENT_METADATA_LIMIT_REACHED,
                    f"more than {self.max_tags} metadata tags for one fragment",
                    timecode,
                )
        if pending is None:
            trailing.tag_count += len(tags)
            out.append(FragmentTags(timecode, event.data, tags, end_marker))
            if end_marker:
                self._trailing = None
            return
        pending.tags += tags
        pending.tags_after.append(event.data)
        if end_marker:
            self._complete_pending(out)

    def _complete_pending(self, out: list[Event], tags_final: bool = True) -> None:
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        cluster = pending.cluster
        missing = self._track_numbers - cluster.per_track.keys()
        if missing or cluster.frame_count == 0:
            raise _fail(
                ErrorId.FRAMES_MISSING_FOR_TRACK,
                f"fragment has no frames for track(s) {sorted(missing) or 'any'}",
                cluster.timecode,
            )
        span = cluster.last_time - cluster.first_time
        frame_duration = cluster.last_duration
        if frame_duration is None:
            default = self._default_durations.get(cluster.last_track)
            if default:
                frame_duration = round(default / self._timecode_scale)
            else:
                count, first, last = cluster.per_track[cluster.last_track]
                frame_duration = round((last - first) / (count - 1)) if count > 1 else 0
        duration = span + frame_duration
        if duration > self._max_duration_units:
            raise self._too_long(cluster, duration)
        fragment = Fragment(
            cluster_bytes=pending.cluster_bytes,
            tags_after=b"".join(pending.tags_after),
            timecode=cluster.timecode,
            duration=duration,
            frame_count=cluster.frame_count,
            keyframe=cluster.keyframe,
            track_numbers=frozenset(cluster.per_track),
            frames_per_track={track: stats[0] for track, stats in cluster.per_track.items()},
            tags=pending.tags,
            first_frame_time=cluster.first_time,
            last_frame_time=cluster.last_time,
            offset=cluster.offset,
            tags_final=tags_final,
        )
        self._previous_last_time = cluster.last_time
        self.fragments_completed += 1
        out.append(FragmentComplete(fragment))
