"""The events of the EBML walker: what :meth:`EBMLWalker.next_event` hands out.

Offsets are absolute positions in the walked stream. These are plain
(mutable, slotted) dataclasses because one is made per element on the
ingest hot path; consumers treat them as read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["BlockHeader", "ElementEnd", "ElementRead", "ElementSkipped", "ElementStart", "WalkerEvent"]


@dataclass(slots=True)
class ElementStart:
    """A master element begins; its children follow. ``size`` is ``None`` when unknown."""

    id: int
    offset: int
    header_size: int
    size: int | None
    depth: int


@dataclass(slots=True)
class ElementEnd:
    """A master element ended at byte ``end`` (for unknown sizes: where the next non-child starts)."""

    id: int
    offset: int
    end: int
    depth: int


@dataclass(slots=True)
class ElementSkipped:
    """An element was passed over without reading its payload."""

    id: int
    offset: int
    header_size: int
    size: int
    depth: int

    @property
    def end(self) -> int:
        return self.offset + self.header_size + self.size


@dataclass(slots=True)
class BlockHeader(ElementSkipped):
    """A SimpleBlock or Block: its header fields read, the frame data itself skipped.

    ``timecode`` is the signed 16-bit timecode relative to the Cluster;
    ``frames`` is the number of frames (more than one with lacing).
    """

    track: int
    timecode: int
    flags: int
    frames: int


@dataclass(slots=True)
class ElementRead:
    """An element read whole: ``data`` holds its header and payload."""

    id: int
    offset: int
    header_size: int
    data: bytes
    depth: int

    @property
    def payload(self) -> memoryview:
        return memoryview(self.data)[self.header_size :]

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


WalkerEvent = ElementStart | ElementEnd | ElementSkipped | ElementRead | BlockHeader
