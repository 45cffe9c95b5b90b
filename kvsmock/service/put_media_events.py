"""What a PutMedia upload's bytes amount to: the events :class:`~kvsmock.service.put_media_machine.PutMediaMachine` gives."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ..media import ErrorId, Fragment
from ..media.matroska.tags import TagValue
from .fragments import MediaHeader


@dataclass(frozen=True, slots=True)
class HeaderReady:
    """Everything before the first Cluster has arrived."""

    header: MediaHeader


@dataclass(frozen=True, slots=True)
class FragmentBegins:
    """A fragment's first bytes have arrived (BUFFERING)."""

    timecode: int


@dataclass(frozen=True, slots=True)
class FragmentEnds:
    """A fragment is whole and valid: it is to be stored (RECEIVED, then PERSISTED)."""

    fragment: Fragment
    producer_timestamp: Decimal  #: epoch seconds
    duration_ms: int


@dataclass(frozen=True, slots=True)
class TagsFollow:
    """Producer Tags for the fragment that ended last (it was a known-size Cluster)."""

    data: bytes
    tags: tuple[tuple[str, TagValue], ...]
    last: bool  #: no more Tags follow for that fragment


@dataclass(frozen=True, slots=True)
class UploadFails:
    """The upload broke a PutMedia rule: an ERROR ACK, and nothing more is read."""

    error: ErrorId
    timecode: int | None = None


Event = HeaderReady | FragmentBegins | FragmentEnds | TagsFollow | UploadFails
