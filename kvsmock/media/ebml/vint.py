"""Variable-length integers (VINTs), the encoding of EBML element IDs and sizes.

The number of leading zero bits of a VINT's first byte gives its width
(1-8 bytes). An ID keeps its marker bit (``0x1A45DFA3``); a size drops it,
and a size whose value bits are all ones means "unknown size" (streamed
Segments and Clusters use this).
"""

from __future__ import annotations

from .errors import EBMLError

__all__ = [
    "VINT_ALL_ONES",
    "VINT_WIDTH",
    "encode_id",
    "encode_size",
    "encode_vint",
    "read_id",
    "read_vint",
    "unknown_size_marker",
]

#: VINT_WIDTH[b]: width of a VINT whose first byte is b (0: invalid, it would be wider than 8 bytes).
VINT_WIDTH = bytes([0] + [8 - b.bit_length() + 1 for b in range(1, 256)])
#: VINT_ALL_ONES[w]: the value mask of a width-w VINT, which as a size means "unknown".
VINT_ALL_ONES = [0] + [(1 << (7 * w)) - 1 for w in range(1, 9)]


def read_vint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int | None, int] | None:
    """Read a size VINT at ``buf[pos]``.

    Returns ``(value, width)``, with value ``None`` for an unknown size (all
    value bits set, any width), or ``None`` when ``buf`` ends before the VINT
    does. Raises :class:`EBMLError` on a first byte of ``0x00``.
    """
    if pos >= len(buf):
        return None
    width = VINT_WIDTH[buf[pos]]
    if not width:
        raise EBMLError(f"invalid VINT (first byte 0x00) at offset {pos}")
    if pos + width > len(buf):
        return None
    if width == 1:
        value = buf[pos] & 0x7F
    else:
        value = int.from_bytes(buf[pos : pos + width], "big") & VINT_ALL_ONES[width]
    if value == VINT_ALL_ONES[width]:
        return None, width
    return value, width


def read_id(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """Read an element ID (marker bits kept) at ``buf[pos]``: ``(id, width)`` or ``None`` if incomplete.

    Matroska limits IDs to 4 bytes (EBMLMaxIDLength); longer ones raise :class:`EBMLError`.
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    width = VINT_WIDTH[first]
    if not width or width > 4:
        raise EBMLError(f"invalid element ID (first byte 0x{first:02X}) at offset {pos}")
    if pos + width > len(buf):
        return None
    if width == 1:
        if first == 0xFF:
            raise EBMLError(f"reserved element ID 0xFF at offset {pos}")
        return first, 1
    return int.from_bytes(buf[pos : pos + width], "big"), width


def encode_vint(value: int, width: int | None = None) -> bytes:
    """Encode ``value`` as a size VINT, minimal width unless ``width`` (1-8) is given.

    The all-ones value of a width is reserved for "unknown", so the minimal
    width is the smallest that holds ``value`` below that marker.
    """
    if value < 0:
        raise ValueError("VINT values are unsigned")
    if width is None:
        width = 1
        while value >= VINT_ALL_ONES[width]:
            width += 1
            if width > 8:
                raise ValueError(f"{value} does not fit in an 8-byte VINT")
    elif not 1 <= width <= 8 or value >= VINT_ALL_ONES[width]:
        raise ValueError(f"{value} does not fit in a {width}-byte VINT")
    return ((1 << (7 * width)) | value).to_bytes(width, "big")


def unknown_size_marker(width: int) -> bytes:
    """The "unknown size" VINT of ``width`` bytes (``0xFF`` for one byte)."""
    if not 1 <= width <= 8:
        raise ValueError("VINT width must be 1-8")
    return ((1 << (7 * width)) | VINT_ALL_ONES[width]).to_bytes(width, "big")


def encode_size(size: int | None, width: int | None = None) -> bytes:
    """Encode an element size; ``None`` gives the unknown-size marker (8 bytes unless ``width``)."""
    if size is None:
        return unknown_size_marker(width or 8)
    return encode_vint(size, width)


def encode_id(element_id: int) -> bytes:
    """Encode an element ID (which already carries its marker bit)."""
    return element_id.to_bytes(max(1, (element_id.bit_length() + 7) // 8), "big")
