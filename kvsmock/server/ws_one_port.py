"""WS and WSS on one port, for an asyncio ``websockets`` server.

What :mod:`kvsmock.server.one_port` does for HTTP and HTTPS: the server
accepts each connection itself, peeks at its first byte, and hands it to
websockets wrapped in TLS when that byte opens a handshake, plain otherwise.
websockets never accepts on the listening socket: :class:`OnePortLoop` keeps
the protocol factory that ``websockets.serve`` gives ``loop.create_server``,
and :func:`accept_connections` gives it each connection
(``loop.connect_accepted_socket``).

TURN over TCP shares the port: a connection whose first byte opens a STUN
message goes to the TURN server's protocol instead; over TLS (``turns:``)
the same choice is made on the first bytes after the handshake
(:class:`FirstBytes`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import Any, Callable

from .one_port import FIRST_BYTE_TIMEOUT, HANDSHAKE_TIMEOUT, starts_tls
from .turn.codec import opens_turn_stream

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


class FirstBytes(asyncio.Protocol):
    """Holds a connection until its first bytes show TURN or not, then hands it to that protocol.

    Used inside TLS, where the first byte cannot be peeked at on the socket:
    the transport is switched to the chosen protocol (``set_protocol``),
    which then sees the connection made and the bytes that decided.
    """

    def __init__(self, factory: ProtocolFactory, turn_factory: ProtocolFactory):
        self._factory = factory
        self._turn_factory = turn_factory
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # a stream transport
        self._timer = asyncio.get_running_loop().call_later(FIRST_BYTE_TIMEOUT, transport.close)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            self._timer.cancel()
        transport = self._transport
        if transport is None:
            return
        protocol = (self._turn_factory if opens_turn_stream(data) else self._factory)()
        assert isinstance(protocol, asyncio.Protocol)
        transport.set_protocol(protocol)
        protocol.connection_made(transport)
        protocol.data_received(data)

    def eof_received(self) -> bool | None:
        return None  # closed before it said anything

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()


async def accept_connections(
    listener: socket.socket,
    factory: ProtocolFactory,
    ssl_context: ssl.SSLContext | None,
    turn_factory: ProtocolFactory | None = None,
) -> None:
    """Accept on ``listener`` (non-blocking) until it is closed, giving each connection to ``factory``'s protocol.

    With ``turn_factory``, connections that open with a STUN message (in
    the clear or inside TLS) go to its protocol instead.
    """
    loop = asyncio.get_running_loop()
    while True:
        try:
            conn, _ = await loop.sock_accept(listener)
        except OSError:  # the listener was closed
            return
        loop.create_task(_hand_over(conn, factory, ssl_context, turn_factory))


async def _hand_over(
    conn: socket.socket,
    factory: ProtocolFactory,
    ssl_context: ssl.SSLContext | None,
    turn_factory: ProtocolFactory | None = None,
) -> None:
    """Give one accepted connection to ``factory``'s protocol, in TLS if its first byte opens a handshake."""
    loop = asyncio.get_running_loop()
    try:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = await asyncio.wait_for(_first_byte(conn), FIRST_BYTE_TIMEOUT)
        if not first:
            conn.close()
            return
        if turn_factory is not None and opens_turn_stream(first):
            await loop.connect_accepted_socket(turn_factory, conn)
            return
        tls = ssl_context if starts_tls(first) else None
        chosen = factory
        if tls is not None and turn_factory is not None:
            ws_factory, turn = factory, turn_factory
            chosen = lambda: FirstBytes(ws_factory, turn)  # noqa: E731
        await loop.connect_accepted_socket(
            chosen, conn, ssl=tls, ssl_handshake_timeout=HANDSHAKE_TIMEOUT if tls else None
        )
    except (OSError, asyncio.TimeoutError) as exc:  # the client left, or its TLS handshake failed
        log.debug("signaling connection dropped before its handshake: %s", exc)
        conn.close()
