"""The ISO BMFF (MP4) box walker: the boxes of a buffer, a box found by type, and the two fields read from boxes.

A box is a 32-bit size (1: a 64-bit size follows the type; 0: to the end),
a four-character type and a payload; container boxes (``moov``, ``trak``,
``moof``, ``traf`` ...) hold boxes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

__all__ = ["CONTAINERS", "Box", "BoxError", "find_box", "first_tfdt", "iter_boxes", "mdhd_timescale", "split_boxes"]

Buffer = bytes | bytearray | memoryview

#: Boxes whose payload is boxes, that :func:`find_box` looks into.
CONTAINERS = frozenset({"moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "mvex", "moof", "traf"})


class BoxError(ValueError):
    """The bytes are not well-formed MP4 boxes."""


class Box(NamedTuple):
    """One box: its type and where it lies in the buffer."""

    type: str
    start: int  #: offset of its size field
    payload: int  #: offset of its payload (after the size, type and any 64-bit size)
    end: int  #: offset just past it


def iter_boxes(buf: Buffer, start: int = 0, end: int | None = None) -> Iterator[Box]:
    """The boxes in ``buf[start:end]``, in order (a tail shorter than a box header is ignored)."""
    if end is None:
        end = len(buf)
    pos = start
    while pos + 8 <= end:
        size = int.from_bytes(buf[pos : pos + 4], "big")
        kind = bytes(buf[pos + 4 : pos + 8]).decode("latin-1")
        header = 8
        if size == 1:
            size = int.from_bytes(buf[pos + 8 : pos + 16], "big")
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            raise BoxError(f"malformed MP4 box {kind!r} at {pos}")
        yield Box(kind, pos, pos + header, pos + size)
        pos += size


def split_boxes(data: Buffer) -> list[tuple[str, int, int]]:
    """Top-level boxes of ``data``: ``(type, start, end)``."""
    return [(box.type, box.start, box.end) for box in iter_boxes(data)]


def find_box(buf: Buffer, box_type: str, start: int = 0, end: int | None = None) -> Box | None:
    """The first ``box_type`` box in ``buf[start:end]``, looking into container boxes (depth first)."""
    for box in iter_boxes(buf, start, end):
        if box.type == box_type:
            return box
        if box.type in CONTAINERS:
            found = find_box(buf, box_type, box.payload, box.end)
            if found is not None:
                return found
    return None


def first_tfdt(data: Buffer) -> int:
    """baseMediaDecodeTime of the first ``tfdt`` box (in a ``moof``, or in ``moof`` + ``mdat``); 0 if none."""
    box = find_box(data, "tfdt")
    if box is None:
        return 0
    version, at = data[box.payload], box.payload + 4
    return int.from_bytes(data[at : at + (8 if version == 1 else 4)], "big")


def mdhd_timescale(data: Buffer) -> int:
    """The timescale of the first track (its ``mdhd``) of an init segment; 0 if none."""
    box = find_box(data, "mdhd")
    if box is None:
        return 0
    version = data[box.payload]
    at = box.payload + 4 + (16 if version == 1 else 8)  # after version/flags and the creation/modification times
    return int.from_bytes(data[at : at + 4], "big")
