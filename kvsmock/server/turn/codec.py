"""STUN and TURN on the wire, over aioice's STUN codec.

:mod:`aioice.stun` parses and builds STUN messages (RFC 8489). A TURN
*server* needs a little more beside it, and this module holds that:

* :func:`parse` — a STUN message, or None for bytes that are not one
  (aioice checks neither the magic cookie nor every attribute's size);
* :func:`raw_attributes` — the attributes as (type, value) pairs, repeated
  ones included (CreatePermission may carry several XOR-PEER-ADDRESS;
  aioice keeps the last) and the TURN ones aioice does not know;
* :func:`encode` — a message with MESSAGE-INTEGRITY and FINGERPRINT, and
  attributes aioice cannot encode (UNKNOWN-ATTRIBUTES) appended raw;
* ChannelData (RFC 8656 section 12.4) and :class:`StreamFramer`, which cuts
  the byte stream of TURN over TCP or TLS into messages (section 12.5).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from aioice import stun

HEADER_LENGTH = stun.HEADER_LENGTH
COOKIE = struct.pack("!I", stun.COOKIE)
CHANNEL_DATA_HEADER = 4
#: A ChannelData message's channel number opens with the bits 01.
_CHANNEL_BITS = 0x40

ATTR_MESSAGE_INTEGRITY = 0x0008
ATTR_UNKNOWN_ATTRIBUTES = 0x000A
ATTR_XOR_PEER_ADDRESS = 0x0012
ATTR_REQUESTED_ADDRESS_FAMILY = 0x0017
ATTR_EVEN_PORT = 0x0018
ATTR_DONT_FRAGMENT = 0x001A
ATTR_FINGERPRINT = 0x8028


class FramingError(ValueError):
    """The stream holds something that is neither a STUN message nor ChannelData."""


def opens_turn_stream(first: bytes) -> bool:
    """True when a TCP connection's first byte opens a STUN message (a TURN client's Allocate or a Binding).

    Every STUN method a TURN client sends first has a message type below
    0x0200, so the byte is 0x00 or 0x01; HTTP opens with a letter, TLS with
    0x16. (ChannelData, 0x40-0x7F, cannot come first: no channel is bound yet.)
    """
    return len(first) >= 1 and first[0] in (0x00, 0x01)


def is_channel_data(data: bytes) -> bool:
    return len(data) >= 1 and data[0] & 0xC0 == _CHANNEL_BITS


def is_stun(data: bytes) -> bool:
    return len(data) >= HEADER_LENGTH and data[0] & 0xC0 == 0 and data[4:8] == COOKIE


def parse(data: bytes) -> stun.Message | None:
    """The STUN message ``data`` holds (FINGERPRINT checked), or None when it holds none."""
    if not is_stun(data):
        return None
    try:
        return stun.parse_message(data)
    except (ValueError, struct.error, IndexError):  # unknown method, bad sizes, bad fingerprint
        return None


def raw_attributes(data: bytes) -> list[tuple[int, bytes]]:
    """Each attribute of a STUN message up to MESSAGE-INTEGRITY, as (type, value), in order."""
    out: list[tuple[int, bytes]] = []
    pos = HEADER_LENGTH
    while pos + 4 <= len(data):
        kind, length = struct.unpack_from("!HH", data, pos)
        if kind == ATTR_MESSAGE_INTEGRITY:
            break
        out.append((kind, data[pos + 4 : pos + 4 + length]))
        pos += 4 + length + stun.padding_length(length)
    return out


def peer_addresses(data: bytes, transaction_id: bytes) -> list[tuple[str, int]]:
    """Every XOR-PEER-ADDRESS of a message (ValueError for a malformed one)."""
    try:
        return [
            stun.unpack_xor_address(value, transaction_id)
            for kind, value in raw_attributes(data)
            if kind == ATTR_XOR_PEER_ADDRESS
        ]
    except struct.error as exc:
        raise ValueError(str(exc)) from None


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + bytes(stun.padding_length(len(value)))


def _with_length(data: bytes) -> bytes:
    return stun.set_body_length(data, len(data) - HEADER_LENGTH)


def unknown_attributes(types: Iterable[int]) -> tuple[int, bytes]:
    """The UNKNOWN-ATTRIBUTES attribute listing ``types``, for :func:`encode`'s ``extra``."""
    return ATTR_UNKNOWN_ATTRIBUTES, b"".join(struct.pack("!H", t) for t in types)


def encode(message: stun.Message, key: bytes | None = None, extra: Iterable[tuple[int, bytes]] = ()) -> bytes:
    """``message`` on the wire: its attributes, then ``extra`` ones, MESSAGE-INTEGRITY (with ``key``), FINGERPRINT."""
    message.attributes.pop("MESSAGE-INTEGRITY", None)
    message.attributes.pop("FINGERPRINT", None)
    data = bytes(message) + b"".join(_attribute(kind, value) for kind, value in extra)
    if key is not None:
        integrity = stun.message_integrity(_with_length(data), key)
        data = _with_length(data + _attribute(ATTR_MESSAGE_INTEGRITY, integrity))
    fingerprint = stun.message_fingerprint(_with_length(data))
    return _with_length(data + _attribute(ATTR_FINGERPRINT, struct.pack("!I", fingerprint)))


def channel_data(number: int, payload: bytes) -> bytes:
    """A ChannelData message (unpadded: over TCP the sender pads it, :func:`padded`)."""
    return struct.pack("!HH", number, len(payload)) + payload


def parse_channel_data(data: bytes) -> tuple[int, bytes] | None:
    """The channel number and payload of a ChannelData message, or None if it is cut short."""
    if len(data) < CHANNEL_DATA_HEADER or not is_channel_data(data):
        return None
    number, length = struct.unpack_from("!HH", data)
    if CHANNEL_DATA_HEADER + length > len(data):
        return None
    return number, data[CHANNEL_DATA_HEADER : CHANNEL_DATA_HEADER + length]


def padded(data: bytes) -> bytes:
    """``data`` padded to a multiple of 4 bytes, as TURN over TCP sends ChannelData."""
    return data + bytes(stun.padding_length(len(data)))


class StreamFramer:
    """Cuts the byte stream of TURN over TCP (or TLS) into STUN messages and ChannelData.

    Sans-I/O: :meth:`feed` takes the bytes as they arrive and returns the
    whole messages they complete (ChannelData without its padding). Bytes
    that open neither kind raise :class:`FramingError`: the connection is
    beyond repair.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        out: list[bytes] = []
        while len(self._buffer) >= 4:
            first = self._buffer[0] & 0xC0
            (length,) = struct.unpack_from("!H", self._buffer, 2)
            if first == 0:
                size = taken = HEADER_LENGTH + length
            elif first == _CHANNEL_BITS:
                size = CHANNEL_DATA_HEADER + length
                taken = size + stun.padding_length(length)
            else:
                raise FramingError(f"a TURN stream cannot hold a message starting with 0x{self._buffer[0]:02x}")
            if len(self._buffer) < taken:
                break
            out.append(bytes(self._buffer[:size]))
            del self._buffer[:taken]
        return out
