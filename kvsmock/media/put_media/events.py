"""The events the PutMedia fragmenter hands out, in the order a body produces them.

:class:`HeaderParsed` once, then per fragment :class:`FragmentStarted` and
:class:`FragmentComplete` (with its :class:`Fragment`), possibly
:class:`FragmentTags` after it, and at most one :class:`MediaError`, last.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..matroska.tags import TagValue
from ..matroska.tracks import TrackInfo
from .error_ids import ErrorId

__all__ = [
    "Event",
    "Fragment",
    "FragmentComplete",
    "FragmentStarted",
    "FragmentTags",
    "HeaderParsed",
    "MediaError",
]


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
    """A Cluster's Timecode has been read: a fragment is being received (a BUFFERING ACK can be sent)."""

    timecode: int  #: the Cluster Timecode as sent
    offset: int = 0  #: byte offset of the Cluster in the body


@dataclass(frozen=True, slots=True)
class Fragment:
    """One Cluster as uploaded, with what the service records about it."""

    #: The Cluster element exactly as uploaded (known- or unknown-size), in the pieces it arrived in
    #: (two fragments are equal when their bytes are, however they were split).
    cluster_pieces: tuple[bytes | memoryview, ...] = field(compare=False)
    tags_after: bytes  #: producer Tags elements that followed it, as uploaded
    timecode: int  #: Cluster Timecode as sent (timecode units)
    #: timecode units: last frame time - first frame time + the last frame's duration
    #: (its BlockDuration, else its track's DefaultDuration, else that track's average frame interval here).
    duration: int
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

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Fragment):
            return NotImplemented
        same_fields = all(getattr(self, f.name) == getattr(other, f.name) for f in fields(self) if f.compare)
        return same_fields and self.cluster_bytes == other.cluster_bytes

    @property
    def cluster_bytes(self) -> bytes:
        """The Cluster element as one ``bytes`` (joined on each call: storing uses the pieces)."""
        pieces = self.cluster_pieces
        if len(pieces) == 1 and isinstance(pieces[0], bytes):
            return pieces[0]
        return b"".join(pieces)

    @property
    def size(self) -> int:
        """Bytes of the Cluster element."""
        return sum(len(piece) for piece in self.cluster_pieces)


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
