"""Reading fully buffered EBML: element headers, the children of a master, and typed values.

These work on bytes already in memory (small elements such as Info, Tracks
or Tags). Streams split anywhere go through :mod:`kvsmock.media.ebml.walker`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from .errors import EBMLError
from .vint import read_id, read_vint

__all__ = [
    "decode_float",
    "decode_int",
    "decode_string",
    "decode_uint",
    "iter_elements",
    "read_element_header",
]


def read_element_header(
    buf: bytes | bytearray | memoryview, pos: int = 0
) -> tuple[int, int | None, int] | None:
    """Read an element header: ``(id, size or None if unknown, header length)``, or ``None`` if incomplete."""
    got = read_id(buf, pos)
    if got is None:
        return None
    element_id, id_width = got
    size = read_vint(buf, pos + id_width)
    if size is None:
        return None
    return element_id, size[0], id_width + size[1]


def iter_elements(
    buf: bytes | bytearray | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """Iterate the children of a fully buffered master payload ``buf[start:end]``.

    Yields ``(id, payload_start, payload_end)`` offsets into ``buf``. Raises
    :class:`EBMLError` on truncation, unknown sizes, or a child overflowing ``end``.
    """
    if end is None:
        end = len(buf)
    pos = start
    while pos < end:
        header = read_element_header(buf, pos)
        if header is None:
            raise EBMLError(f"truncated element header at offset {pos}")
        element_id, size, header_len = header
        if size is None:
            raise EBMLError(f"unknown-size element 0x{element_id:X} inside a sized parent at offset {pos}")
        payload = pos + header_len
        pos = payload + size
        if pos > end:
            raise EBMLError(f"element 0x{element_id:X} at offset {payload - header_len} overflows its parent")
        yield element_id, payload, pos


def decode_uint(data: bytes | memoryview) -> int:
    """An unsigned integer payload (0-8 bytes, big-endian); EBMLError when longer (RFC 8794 7.2)."""
    if len(data) > 8:
        raise EBMLError(f"an unsigned integer element of {len(data)} bytes (at most 8)")
    return int.from_bytes(data, "big")


def decode_int(data: bytes | memoryview) -> int:
    """A signed integer payload (0-8 bytes, big-endian two's complement); EBMLError when longer."""
    if len(data) > 8:
        raise EBMLError(f"a signed integer element of {len(data)} bytes (at most 8)")
    return int.from_bytes(data, "big", signed=True)


def decode_float(data: bytes | memoryview) -> float:
    """A float payload (0, 4 or 8 bytes)."""
    if len(data) == 0:
        return 0.0
    if len(data) == 4:
        return struct.unpack(">f", data)[0]
    if len(data) == 8:
        return struct.unpack(">d", data)[0]
    raise EBMLError(f"float element of {len(data)} bytes")


def decode_string(data: bytes | memoryview) -> str:
    """A String/UTF-8 payload with trailing NULs stripped (producer SDKs NUL-pad)."""
    return bytes(data).rstrip(b"\x00").decode("utf-8", errors="replace")
