"""The PutMedia fragmenter: a sans-I/O state machine that cuts an uploaded MKV stream into KVS fragments.

:meth:`Fragmenter.feed` it the request body in pieces split anywhere, and it
returns typed events (:mod:`~kvsmock.media.put_media.events`, h11 style):

* :class:`~.events.HeaderParsed` once everything before the first Cluster is known;
* :class:`~.events.FragmentStarted` as soon as a Cluster's Timecode has been
  read (the moment a BUFFERING ACK can be sent);
* :class:`~.events.FragmentComplete` with a :class:`~.events.Fragment` once
  the fragment can no longer change;
* :class:`~.events.FragmentTags` with producer Tags that arrived after their
  fragment was already complete (after a known-size Cluster);
* :class:`~.events.MediaError` with a PutMedia ErrorId; after it the parser
  ignores further data, and fragments already emitted stay valid.

States
    EXPECT_EBML -> EXPECT_SEGMENT -> HEADER (Segment children before the
    first Cluster) -> CLUSTERS (a Cluster being received, see
    :mod:`~kvsmock.media.put_media.cluster`, or what lies between Clusters)
    -> DONE (a known-size Segment ended); FAILED after a MediaError.

When a fragment is complete
    Each Cluster is one fragment; producer ``Tags`` that follow a Cluster
    belong to it. A fragment is complete as soon as it can be known to be:

    * a known-size Cluster: at its last byte. Producer Tags that follow it
      (up to the next Cluster) come as :class:`~.events.FragmentTags` events for it;
    * an unknown-size Cluster: its end is only seen at the next element,
      and the Tags after it are collected into ``Fragment.tags_after``
      until a Tags element holding ``AWS_KINESISVIDEO_END_OF_FRAGMENT`` (the
      official producer SDK closes every fragment with one; completed as soon
      as that Tags element has been read), or the next element header that
      is not Tags, Void, CRC-32 or another skippable Segment child: the next
      Cluster, a second EBML header (which is then an error), the end of a
      known-size Segment, or :meth:`Fragmenter.close`.

    Events never depend on how the body was split.

Cost
    Only element headers and block headers are looked at; frame payloads
    are skipped by size. The Cluster is kept as the chunks it arrived in and
    handed on as those pieces (``Fragment.cluster_pieces``), never joined.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum

from ..ebml import ids
from ..ebml.errors import EBMLError
from ..ebml.walker import EBMLWalker
from ..ebml.walker_events import BlockHeader, ElementEnd, ElementRead, ElementSkipped, ElementStart, WalkerEvent
from ..matroska.header import DEFAULT_TIMECODE_SCALE, non_utf8_text, parse_doc_type, parse_info
from ..matroska.schema import BLOCK_HEADERS
from ..matroska.tags import END_OF_FRAGMENT, TagValue, parse_tags
from ..matroska.tracks import TrackInfo, parse_tracks
from .cluster import Cluster, ClusterRules
from .error_ids import ErrorId, Refusal
from .events import Event, Fragment, FragmentComplete, FragmentTags, HeaderParsed, MediaError
from .limits import Limits

__all__ = ["Fragmenter"]

_SKIPPABLE_TOP = frozenset({ids.VOID, ids.CRC32})
_SKIPPABLE_IN_SEGMENT = frozenset({ids.VOID, ids.CRC32, ids.CUES, ids.SEEK_HEAD, ids.CHAPTERS, ids.ATTACHMENTS})
_DOC_TYPES = ("matroska", "webm")


class _State(Enum):
    """Where in the body the fragmenter is (see "States" in the module docstring)."""

    EXPECT_EBML = "expect EBML header"
    EXPECT_SEGMENT = "expect Segment"
    HEADER = "Segment header"
    CLUSTERS = "clusters"
    DONE = "done"
    FAILED = "failed"


def _check_text(payload: bytes | memoryview, timecode: int | None) -> None:
    """Refuse text that is not UTF-8: stored, it could never be packaged (GetClip, HLS, DASH, GetImages)."""
    bad = non_utf8_text(payload)
    if bad is not None:
        name = ids.ID_NAMES.get(bad, f"0x{bad:X}")
        raise Refusal(ErrorId.INVALID_MKV_DATA, f"the {name} element is not valid UTF-8", timecode)


@dataclass(slots=True)
class _Pending:
    """A Cluster that has ended, waiting for the producer Tags that may follow it."""

    cluster: Cluster
    timecode: int
    cluster_pieces: tuple[bytes | memoryview, ...]
    tags_after: list[bytes] = field(default_factory=list)
    tags: list[tuple[str, TagValue]] = field(default_factory=list)


@dataclass(slots=True)
class _Trailing:
    """A fragment completed at the end of its known-size Cluster: later Tags are still its own."""

    timecode: int
    tag_count: int = 0


class Fragmenter:
    """Incremental PutMedia body parser (see the module docstring for the rules).

    Limits (:class:`~kvsmock.media.put_media.limits.Limits`) can be given
    whole or as keyword arguments, so tests and stream settings can vary them:
    ``max_fragment_size`` bytes per Cluster (50 MB), ``max_fragment_duration``
    seconds (20), ``max_tracks`` (3), ``max_tags`` producer tags per fragment
    (10), ``max_tag_name`` / ``max_tag_value`` bytes (128 / 256).
    """

    def __init__(self, limits: Limits | None = None, **overrides: int | float) -> None:
        self.limits = replace(limits or Limits(), **overrides)  # type: ignore[arg-type]
        self._walker = EBMLWalker(BLOCK_HEADERS, max_read_size=self.limits.max_header_size)
        self._state = _State.EXPECT_EBML
        self._ebml_header = b""
        self._doc_type = ""
        self._header_start = 0
        self._tracks: list[TrackInfo] = []
        self._timecode_scale = DEFAULT_TIMECODE_SCALE
        self._rules: ClusterRules | None = None
        self._cluster: Cluster | None = None
        self._pending: _Pending | None = None
        self._trailing: _Trailing | None = None
        self._previous_last_time: int | None = None
        self.header: HeaderParsed | None = None  #: set once the header is known
        self.fragments_completed = 0

    # ------------------------------------------------------------ public API

    @property
    def failed(self) -> bool:
        """True once a MediaError has been emitted."""
        return self._state is _State.FAILED

    @property
    def bytes_received(self) -> int:
        return self._walker.received

    def open_cluster_bytes(self, start: int) -> list[bytes | memoryview]:
        """The bytes of the Cluster being received that are surely its own, from its byte ``start`` on.

        They are the bytes before the next element header still to be read: a
        consumer can seal a Cluster as it arrives and, when its fragment
        completes, take from ``Fragment.cluster_pieces`` only what is left.
        Empty when no Cluster is open (between Clusters, or ended and waiting
        for its Tags).
        """
        cluster = self._cluster
        if cluster is None or self._state is not _State.CLUSTERS:
            return []
        walker = self._walker
        begin, end = cluster.offset + start, min(walker.position, walker.received)
        return walker.pieces_between(begin, end) if end > begin else []

    def feed(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Parse more of the body; returns the events it completes."""
        if self._state is _State.FAILED or not data:
            return []
        self._walker.feed(data)
        return self._run()

    def close(self) -> list[Event]:
        """The body has ended: complete what is open, or report truncation."""
        if self._state is _State.FAILED:
            return []
        self._walker.close()
        out = self._run()
        if self._state is _State.HEADER:
            out.append(self._header_parsed(self._walker.position))
            self._state = _State.DONE
        return out

    # ------------------------------------------------------------ the machine

    def _run(self) -> list[Event]:
        out: list[Event] = []
        walker = self._walker
        try:
            while True:
                event = walker.next_event()
                if event is None:
                    break
                cluster = self._cluster
                if cluster is None:
                    self._outside_cluster(event, out)
                elif type(event) is BlockHeader:  # the hot path: one per frame
                    cluster.block(event)
                elif isinstance(event, ElementEnd):
                    if event.id == ids.BLOCK_GROUP:
                        cluster.end_group()
                    else:
                        self._end_cluster(cluster, event.end, out)
                else:
                    started = cluster.element(event)
                    if started is not None:
                        out.append(started)
        except EBMLError as exc:
            self._state = _State.FAILED
            timecode = self._cluster.timecode if self._cluster else None
            out.append(MediaError.of(ErrorId.INVALID_MKV_DATA, str(exc), timecode))
        except Refusal as refusal:
            self._state = _State.FAILED
            out.append(MediaError.of(refusal.error, refusal.message, refusal.timecode))
        if self._state is _State.FAILED:
            self._cluster = self._pending = self._trailing = None
            self._walker.retain_from = None
        return out

    def _outside_cluster(self, event: WalkerEvent, out: list[Event]) -> None:
        state = self._state
        if state is _State.CLUSTERS:
            self._between_clusters(event, out)
        elif state is _State.HEADER:
            self._in_header(event, out)
        elif state is _State.EXPECT_EBML:
            self._expect_ebml(event)
        elif state is _State.EXPECT_SEGMENT:
            self._expect_segment(event)
        else:  # DONE: after a known-size Segment
            if event.depth == 0 and event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
                return
            if event.id in (ids.EBML, ids.SEGMENT):
                raise Refusal(ErrorId.INVALID_MKV_DATA, "a second EBML header/Segment in one PutMedia body")
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"element 0x{event.id:X} after the end of the Segment")

    def _expect_ebml(self, event: WalkerEvent) -> None:
        if event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if not isinstance(event, ElementRead) or event.id != ids.EBML:
            raise Refusal(ErrorId.INVALID_MKV_DATA, "the body does not start with an EBML header")
        self._doc_type = parse_doc_type(event.payload)
        if self._doc_type not in _DOC_TYPES:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"DocType {self._doc_type!r} is not Matroska")
        self._ebml_header = event.data
        self._state = _State.EXPECT_SEGMENT

    def _expect_segment(self, event: WalkerEvent) -> None:
        if event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if not isinstance(event, ElementStart) or event.id != ids.SEGMENT:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"expected a Segment, found element 0x{event.id:X}")
        self._header_start = event.offset + event.header_size
        self._walker.retain_from = self._header_start
        self._state = _State.HEADER

    def _in_header(self, event: WalkerEvent, out: list[Event]) -> None:
        if isinstance(event, ElementStart) and event.id == ids.CLUSTER:
            out.append(self._header_parsed(event.offset))
            self._state = _State.CLUSTERS
            self._start_cluster(event)
            return
        if isinstance(event, ElementEnd):  # end of the Segment before any Cluster
            out.append(self._header_parsed(event.end))
            self._state = _State.DONE
            return
        if event.depth != 1:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} at offset {event.offset}")
        if isinstance(event, ElementRead):
            if event.id in (ids.INFO, ids.TRACKS, ids.TAGS):
                _check_text(event.payload, None)
            if event.id == ids.INFO:
                self._timecode_scale = parse_info(event.payload).timecode_scale
            elif event.id == ids.TRACKS:
                self._set_tracks(parse_tracks(event.payload))
        elif event.__class__ is not ElementSkipped:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} in the Segment header")

    def _set_tracks(self, tracks: list[TrackInfo]) -> None:
        if len(tracks) > self.limits.max_tracks:
            raise Refusal(
                ErrorId.MORE_THAN_ALLOWED_TRACKS_FOUND,
                f"{len(tracks)} tracks declared, at most {self.limits.max_tracks} allowed",
            )
        self._tracks = tracks

    def _header_parsed(self, first_cluster_offset: int) -> HeaderParsed:
        header_bytes = self._walker.bytes_between(self._header_start, first_cluster_offset)
        self._walker.retain_from = None
        tracks = self._tracks
        self._rules = ClusterRules(
            track_numbers=frozenset(t.number for t in tracks),
            default_durations={t.number: t.default_duration for t in tracks if t.default_duration},
            timecode_scale=self._timecode_scale,
            max_size=self.limits.max_fragment_size,
            max_duration=self.limits.max_fragment_duration,
        )
        self.header = HeaderParsed(self._ebml_header, header_bytes, list(tracks), self._timecode_scale, self._doc_type)
        return self.header

    def _between_clusters(self, event: WalkerEvent, out: list[Event]) -> None:
        if isinstance(event, ElementStart) and event.id == ids.CLUSTER:
            self._complete_pending(out)
            self._start_cluster(event)
            return
        if isinstance(event, ElementEnd):  # the Segment ended
            self._complete_pending(out)
            self._state = _State.DONE
            return
        if event.depth == 1:
            if isinstance(event, ElementRead) and event.id == ids.TAGS:
                self._producer_tags(event, out)
                return
            skippable = event.id in _SKIPPABLE_IN_SEGMENT or event.id not in ids.ID_NAMES
            if event.__class__ is ElementSkipped and skippable:
                return
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"element 0x{event.id:X} not allowed after the first Cluster")
        if event.depth == 0 and event.__class__ is ElementSkipped and event.id in _SKIPPABLE_TOP:
            return
        if event.depth == 0 and event.id in (ids.EBML, ids.SEGMENT):
            raise Refusal(ErrorId.INVALID_MKV_DATA, "a second EBML header/Segment in one PutMedia body")
        raise Refusal(ErrorId.INVALID_MKV_DATA, f"unexpected element 0x{event.id:X} at offset {event.offset}")

    def _start_cluster(self, event: ElementStart) -> None:
        if event.size is not None and event.header_size + event.size > self.limits.max_fragment_size:
            raise Refusal(
                ErrorId.MAX_FRAGMENT_SIZE_REACHED,
                f"Cluster of {event.header_size + event.size} bytes exceeds {self.limits.max_fragment_size}",
            )
        assert self._rules is not None  # set with the header, before any Cluster
        self._trailing = None
        self._cluster = Cluster(event.offset, event.size is not None, self._rules, self._previous_last_time)
        self._walker.retain_from = event.offset

    def _end_cluster(self, cluster: Cluster, end: int, out: list[Event]) -> None:
        timecode = cluster.end(end)
        cluster_pieces = tuple(self._walker.pieces_between(cluster.offset, end))
        self._walker.retain_from = None
        self._cluster = None
        self._pending = _Pending(cluster, timecode, cluster_pieces)
        if cluster.known_size:  # nothing later can change it: complete at its last byte
            self._complete_pending(out, tags_final=False)
            self._trailing = _Trailing(timecode)

    def _producer_tags(self, event: ElementRead, out: list[Event]) -> None:
        pending, trailing = self._pending, self._trailing
        if pending is not None:
            timecode, count = pending.timecode, len(pending.tags)
        elif trailing is not None:
            timecode, count = trailing.timecode, trailing.tag_count
        else:
            # Tags after a fragment the END_OF_FRAGMENT marker already closed: nothing to attach them to.
            return
        _check_text(event.payload, timecode)
        end_marker = False
        tags: list[tuple[str, TagValue]] = []
        for name, value in parse_tags(event.payload):
            if name == END_OF_FRAGMENT:
                end_marker = True
                continue
            tags.append((name, value))
            self.limits.check_tag(name, value, count + len(tags), timecode)
        if pending is None:
            assert trailing is not None
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
        fragment = Fragment(
            cluster_pieces=pending.cluster_pieces,
            tags_after=b"".join(pending.tags_after),
            timecode=pending.timecode,
            duration=cluster.duration(),
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
