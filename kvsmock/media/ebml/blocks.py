"""Matroska blocks at the byte level: the block header and lacing.

A SimpleBlock or Block payload starts with the track number (a VINT), a
signed 16-bit timecode relative to its Cluster and a flags byte; with
lacing (flags ``0x06``) a lace count and the frame sizes follow, and the
frames are packed after them.
"""

from __future__ import annotations

from .errors import EBMLError
from .vint import read_vint

__all__ = ["lace_sizes", "read_block_header"]


def read_block_header(block, pos: int, end: int) -> tuple[int, int, int, int] | None:
    """``(track, timecode, flags, header end)`` of the block whose payload is ``block[pos:end]``.

    ``None`` when the bytes are not a block header (a bad track VINT, or too
    short for the timecode and flags). A first byte with its top bit set is
    a one-byte track number, ``0xFF`` (127) included.
    """
    if pos >= end:
        return None
    first = block[pos]
    if first & 0x80:
        track, width = first & 0x7F, 1
    else:
        got = read_vint(block, pos)
        if got is None or got[0] is None:
            return None
        track, width = got
    p = pos + width
    if p + 3 > end:
        return None
    return track, int.from_bytes(block[p : p + 2], "big", signed=True), block[p + 2], p + 3


def lace_sizes(block, p: int, lacing: int) -> tuple[list[int], int]:
    """Frame sizes of a laced block whose lace count byte is at ``p``; returns them and the data start."""
    if p >= len(block):
        raise EBMLError("laced block without a lace count")
    count = block[p] + 1
    p += 1
    sizes: list[int] = []
    if lacing == 0x02:  # Xiph
        for _ in range(count - 1):
            size = 0
            while True:
                if p >= len(block):
                    raise EBMLError("invalid Xiph lacing")
                byte = block[p]
                p += 1
                size += byte
                if byte != 255:
                    break
            sizes.append(size)
    elif lacing == 0x06:  # EBML
        got = read_vint(block, p)
        if got is None or got[0] is None:
            raise EBMLError("invalid EBML lacing")
        sizes.append(got[0])
        p += got[1]
        for _ in range(count - 2):
            got = read_vint(block, p)
            if got is None or got[0] is None:
                raise EBMLError("invalid EBML lacing")
            width = got[1]
            sizes.append(sizes[-1] + got[0] - ((1 << (7 * width - 1)) - 1))
            p += width
    else:  # fixed
        each = (len(block) - p) // count
        return [each] * count, p
    last = len(block) - p - sum(sizes)
    if last < 0 or any(size < 0 for size in sizes):
        raise EBMLError("invalid lacing sizes")
    sizes.append(last)
    return sizes, p
