"""TURN over TCP and TLS: one connection's byte stream, framed (RFC 8656 section 12.5).

The client reaches the server over TCP; what it relays still leaves the
allocation over UDP. The signaling port hands a connection here when its
first byte (after the TLS handshake, for ``turns:``) opens a STUN message.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Callable

from . import codec
from .allocations import Client

log = logging.getLogger("kvsmock.turn")


class TurnStreamProtocol(asyncio.Protocol):
    """One TURN client connection: messages to ``received(client, data)``, answers written back with :meth:`write`.

    ``opened(client, protocol)`` and ``closed(client)`` tell the server when
    the connection starts and ends (its allocation goes with it).
    """

    def __init__(self, received: Callable[[Client, bytes], None],
                 opened: Callable[[Client, "TurnStreamProtocol"], None], closed: Callable[[Client], None]):
        self._received = received
        self._opened = opened
        self._closed = closed
        self._framer = codec.StreamFramer()
        self.transport: asyncio.Transport | None = None
        self.client: Client | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport
        peer = transport.get_extra_info("peername") or ("0.0.0.0", 0)
        self.client = Client("tcp", (peer[0], peer[1]))
        self._opened(self.client, self)

    def data_received(self, data: bytes) -> None:
        if self.client is None or self.transport is None:
            return
        try:
            messages = self._framer.feed(data)
        except codec.FramingError as exc:
            log.debug("TURN connection from %s closed: %s", self.client.address, exc)
            self.transport.close()
            return
        for message in messages:
            self._received(self.client, message)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client is not None:
            self._closed(self.client)

    def write(self, data: bytes) -> None:
        """Send a message to the client (ChannelData padded, as TCP framing needs)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(codec.padded(data))

    def close(self) -> None:
        """Drop the connection at once (the server is stopping)."""
        if self.transport is not None:
            self.transport.abort()
