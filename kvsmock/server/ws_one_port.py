"""WS and WSS on one port, for an asyncio ``websockets`` server.

What :mod:`kvsmock.server.one_port` does for HTTP and HTTPS: the server
accepts each connection itself, peeks at its first byte, and hands it to
websockets wrapped in TLS when that byte opens a handshake, plain otherwise.
websockets never accepts on the listening socket: :class:`OnePortLoop` keeps
the protocol factory that ``websockets.serve`` gives ``loop.create_server``,
and :func:`accept_connections` gives it each connection
(``loop.connect_accepted_socket``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable

from .one_port import FIRST_BYTE_TIMEOUT, HANDSHAKE_TIMEOUT, starts_tls

log = logging.getLogger("kvsmock.signaling")

ProtocolFactory = Callable[[], asyncio.BaseProtocol]


class OnePortLoop(asyncio.SelectorEventLoop):
    """An event loop that remembers the protocol factory ``websockets.serve`` hands it."""

    protocol_factory: ProtocolFactory | None = None

    async def create_server(self, protocol_factory, *args: Any, **kwargs: Any):
        self.protocol_factory = protocol_factory
        return _AcceptedElsewhere(await super().create_server(protocol_factory, *args, **kwargs))


class _AcceptedElsewhere:
    """The asyncio server websockets holds: it serves until closed, though it never accepts itself."""

    def __init__(self, server: asyncio.Server):
        self._server = server
        self._open = True

    def is_serving(self) -> bool:
        return self._open

    def close(self) -> None:
        self._open = False
        self._server.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)


async def _first_byte(sock: socket.socket) -> bytes:
    """The connection's first byte, left unread (b"" if it closed)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            return sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            readable: asyncio.Future[None] = loop.create_future()

            def wake() -> None:
                if not readable.done():
                    readable.set_result(None)

            loop.add_reader(sock.fileno(), wake)
            try:
                await readable
            finally:
                loop.remove_reader(sock.fileno())


async def accept_connections(
    listener: socket.socket, factory: ProtocolFactory, ssl_context: ssl.SSLContext | None
) -> None:
    """Accept on ``listener`` (non-blocking) until it is closed, giving each connection to ``factory``'s protocol."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            conn, _ = await loop.sock_accept(listener)
        except OSError:  # the listener was closed
            return
        loop.create_task(_hand_over(conn, factory, ssl_context))


async def _hand_over(conn: socket.socket, factory: ProtocolFactory, ssl_context: ssl.SSLContext | None) -> None:
    """Give one accepted connection to ``factory``'s protocol, in TLS if its first byte opens a handshake."""
    loop = asyncio.get_running_loop()
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = await asyncio.wait_for(_first_byte(conn), FIRST_BYTE_TIMEOUT)
        if not first:
            conn.close()
            return
        tls = ssl_context if starts_tls(first) else None
        await loop.connect_accepted_socket(
            factory, conn, ssl=tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT if tls else None
        )
    except (OSError, asyncio.TimeoutError) as exc:  # the client left, or its TLS handshake failed
        log.debug("signaling connection dropped before its handshake: %s", exc)
        conn.close()
