"""Length-prefixed NAL units, the framing H.264 and H.265 share in Matroska and MP4.

Each frame is NAL units each preceded by its length in 1, 2 or 4 bytes
(the size the codec's configuration record declares).
"""

from __future__ import annotations

import struct

from .base import InvalidCodecPrivateData, InvalidMediaFrame

__all__ = ["annexb_units", "check_nal_frame", "length_prefixed", "record_length_size"]

_LENGTH_READERS = {
    1: struct.Struct(">B").unpack_from,
    2: struct.Struct(">H").unpack_from,
    4: struct.Struct(">I").unpack_from,
}


def record_length_size(record: bytes, name: str, min_size: int, at: int) -> int:
    """Check the start of an ``{name}DecoderConfigurationRecord``; return the NAL length size it declares.

    The record is at least ``min_size`` bytes, its configurationVersion is 1,
    and byte ``at`` holds lengthSizeMinusOne (3 bytes is not allowed).
    """
    if len(record) < min_size or record[0] != 1:
        raise InvalidCodecPrivateData(f"The codec private data is not an {name}DecoderConfigurationRecord.")
    length_size = (record[at] & 0x03) + 1
    if length_size == 3:
        raise InvalidCodecPrivateData(f"The {name} configuration declares a NAL unit length size of 3 bytes.")
    return length_size


def check_nal_frame(data: bytes | memoryview, length_size: int, hevc: bool) -> None:
    """Check a video frame is whole length-prefixed NAL units with valid headers."""
    end, pos = len(data), 0
    if end == 0:
        raise InvalidMediaFrame("A video frame is empty.")
    read_length = _LENGTH_READERS[length_size]
    header_len = 2 if hevc else 1
    while pos < end:
        if pos + length_size > end:
            raise InvalidMediaFrame("A video frame ends inside a NAL unit length.")
        (size,) = read_length(data, pos)
        pos += length_size
        if size < header_len or pos + size > end:
            raise InvalidMediaFrame("A NAL unit length in a video frame does not match the frame.")
        if data[pos] & 0x80:  # forbidden_zero_bit
            raise InvalidMediaFrame("A NAL unit in a video frame has its forbidden bit set.")
        pos += size


def annexb_units(data: bytes | memoryview) -> list[bytes]:
    """The NAL units of an Annex-B byte stream (each after a ``00 00 01`` or ``00 00 00 01`` start code).

    Zero bytes before a start code (a 4-byte start code's first byte, or
    trailing_zero_8bits) are not part of the unit before it; bytes before
    the first start code are ignored.
    """
    buf = bytes(data)
    units: list[bytes] = []
    start = buf.find(b"\x00\x00\x01")
    while start != -1:
        begin = start + 3
        start = buf.find(b"\x00\x00\x01", begin)
        unit = buf[begin:] if start == -1 else buf[begin:start]
        unit = unit.rstrip(b"\x00")
        if unit:
            units.append(unit)
    return units


def length_prefixed(units: list[bytes], length_size: int = 4) -> bytes:
    """NAL units framed as Matroska and MP4 carry them: each preceded by its length in ``length_size`` bytes."""
    return b"".join(len(unit).to_bytes(length_size, "big") + unit for unit in units)
