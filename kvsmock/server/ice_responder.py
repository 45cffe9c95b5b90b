"""A loopback STUN responder that refuses TURN, for GetIceServerConfig's URIs.

It runs on the UDP twin of the signaling endpoint's port
(:mod:`kvsmock.server.signaling_endpoint`).

The service hands out TURN servers; kvsmock relays no media, but a client
given an address where nothing listens waits seconds for its TURN
allocation to time out before it connects through host candidates. This
responder answers at once instead:

* a STUN Binding request gets a success response with the sender's address
  (XOR-MAPPED-ADDRESS), so ``stun:`` on this address works too;
* a TURN Allocate (and any other TURN request) gets error 508 Insufficient
  Capacity, so the client gives up on relaying immediately.

Sans-I/O core (:func:`respond`) plus a tiny asyncio datagram protocol.
"""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from typing import cast

MAGIC_COOKIE = 0x2112A442
_HEADER = struct.Struct("!HHI12s")

BINDING = 0x001
CLASS_REQUEST, CLASS_SUCCESS, CLASS_ERROR = 0x000, 0x100, 0x110

ATTR_XOR_MAPPED_ADDRESS = 0x0020
ATTR_ERROR_CODE = 0x0009
ATTR_SOFTWARE = 0x8022

SOFTWARE = b"kvsmock"
REFUSAL = (508, "Insufficient Capacity: kvsmock does not relay media")


def _message_type(method: int, klass: int) -> int:
    """Interleave method and class bits as RFC 5389 section 6 lays them out."""
    return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | klass


def _split_type(message_type: int) -> tuple[int, int]:
    klass = message_type & 0x0110
    method = (message_type & 0x000F) | ((message_type >> 1) & 0x0070) | ((message_type >> 2) & 0x0F80)
    return method, klass


def _attribute(kind: int, value: bytes) -> bytes:
    padding = b"\x00" * (-len(value) % 4)
    return struct.pack("!HH", kind, len(value)) + value + padding


def _xor_address(host: str, port: int, transaction_id: bytes) -> bytes:
    ip = ipaddress.ip_address(host)
    xport = port ^ (MAGIC_COOKIE >> 16)
    if ip.version == 4:
        xaddr = int(ip) ^ MAGIC_COOKIE
        return struct.pack("!BBHI", 0, 1, xport, xaddr)
    key = int.from_bytes(struct.pack("!I", MAGIC_COOKIE) + transaction_id, "big")
    return struct.pack("!BBH", 0, 2, xport) + (int(ip) ^ key).to_bytes(16, "big")


def _message(method: int, klass: int, transaction_id: bytes, attributes: bytes) -> bytes:
    return _HEADER.pack(_message_type(method, klass), len(attributes), MAGIC_COOKIE, transaction_id) + attributes


def respond(data: bytes, addr: tuple) -> bytes | None:
    """The response to one datagram from ``addr``, or None when it calls for none."""
    if len(data) < _HEADER.size or data[0] & 0xC0:
        return None
    message_type, length, cookie, transaction_id = _HEADER.unpack_from(data)
    if cookie != MAGIC_COOKIE or length + _HEADER.size > len(data):
        return None
    method, klass = _split_type(message_type)
    if klass != CLASS_REQUEST:
        return None  # indications (TURN Send) and responses get no answer
    software = _attribute(ATTR_SOFTWARE, SOFTWARE)
    if method == BINDING:
        try:
            mapped = _xor_address(addr[0], addr[1], transaction_id)
        except ValueError:
            return None
        return _message(method, CLASS_SUCCESS, transaction_id, _attribute(ATTR_XOR_MAPPED_ADDRESS, mapped) + software)
    code, reason = REFUSAL
    error = struct.pack("!HBB", 0, code // 100, code % 100) + reason.encode()
    return _message(method, CLASS_ERROR, transaction_id, _attribute(ATTR_ERROR_CODE, error) + software)


class IceResponderProtocol(asyncio.DatagramProtocol):
    """Serves :func:`respond` on a UDP socket."""

    transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # not a subclass, but has sendto

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        reply = respond(data, addr)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors from clients that went away
        pass
