"""HTTP and HTTPS on one port: each connection's first byte says which it speaks.

A TLS connection opens with a handshake record (first byte ``0x16``); a
plain HTTP request opens with a method name. The server peeks at that byte
without consuming it and wraps the socket in TLS only when the client
started a handshake, so ``http://`` and ``https://`` both work on the same
address (as LocalStack's single port does). The WebRTC signaling endpoint
makes the same choice for ``ws://`` and ``wss://``
(:mod:`kvsmock.server.ws_one_port`).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from typing import Any

from werkzeug.serving import ThreadedWSGIServer

from .waiting_room import WaitingRoom

log = logging.getLogger("kvsmock.server")

#: The first byte of a TLS record carrying a handshake (a ClientHello opens every TLS connection).
TLS_HANDSHAKE = 0x16
#: Seconds a new connection may stay silent before the server gives up on it.
FIRST_BYTE_TIMEOUT = 60.0
#: Seconds a TLS handshake may take.
HANDSHAKE_TIMEOUT = 30.0
#: Connections served at once (each has a thread); more are refused with 503 until some end.
MAX_ACTIVE_CONNECTIONS = 2000
#: Connections the kernel queues before they are accepted.
LISTEN_BACKLOG = 1024
_REFUSAL_BODY = b'{"Message": "kvsmock is serving too many connections; try again later."}'
_REFUSAL = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"x-amzn-ErrorType: ServiceUnavailableException\r\nConnection: close\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(_REFUSAL_BODY), _REFUSAL_BODY)
)


def starts_tls(first: bytes) -> bool:
    """True when a connection's first byte opens a TLS handshake."""
    return bool(first) and first[0] == TLS_HANDSHAKE


class OnePortServer(ThreadedWSGIServer):
    """werkzeug's threaded server, answering HTTPS too when it has a TLS context.

    werkzeug itself is given no ``ssl_context`` (it would wrap the listening
    socket, making the port TLS-only); each connection is wrapped in its own
    thread once its first byte shows a TLS handshake.
    """

    request_queue_size = LISTEN_BACKLOG

    def __init__(self, host: str, port: int, app: Any, handler: type, tls_context: ssl.SSLContext | None):
        self.tls_context = tls_context
        self._active = 0
        self._active_lock = threading.Lock()
        self._room = WaitingRoom(self._start, FIRST_BYTE_TIMEOUT)  # first: werkzeug closes us if binding fails
        super().__init__(host, port, app, handler=handler)

    def process_request(self, request: Any, client_address: Any) -> None:  # on the accepting thread
        # ACKs and live chunks are small writes that must leave at once, not wait for the peer's delayed ACK.
        with contextlib.suppress(OSError):
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._room.add(request, client_address)

    def _start(self, request: socket.socket, client_address: Any) -> None:
        """A connection has spoken: serve it in a thread of its own, or refuse it when too many are served."""
        with self._active_lock:
            admitted = self._active < MAX_ACTIVE_CONNECTIONS
            if admitted:
                self._active += 1
        if not admitted:
            log.warning("refused a connection: %d are being served", MAX_ACTIVE_CONNECTIONS)
            try:
                if not starts_tls(request.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)):
                    request.sendall(_REFUSAL)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._active_lock:
                self._active -= 1

    def server_close(self) -> None:
        self._room.close()
        super().server_close()

    def finish_request(self, request: Any, client_address: Any) -> None:  # runs in the connection's thread
        if self.tls_context is None:
            super().finish_request(request, client_address)
            return
        secured = self._secure(request)
        if secured is None:
            return
        try:
            super().finish_request(secured, client_address)
        finally:
            self.shutdown_request(secured)

    def _secure(self, sock: socket.socket) -> socket.socket | ssl.SSLSocket | None:
        """The connection as it speaks: wrapped in TLS if it opened a handshake; None if it closed or failed."""
        previous = sock.gettimeout()
        try:
            sock.settimeout(FIRST_BYTE_TIMEOUT)
            first = sock.recv(1, socket.MSG_PEEK)
            if not first:
                return None
            if not starts_tls(first):
                sock.settimeout(previous)
                return sock
            sock.settimeout(HANDSHAKE_TIMEOUT)
            assert self.tls_context is not None
            secured = self.tls_context.wrap_socket(sock, server_side=True)
            secured.settimeout(previous)
            return secured
        except (OSError, ssl.SSLError) as exc:  # a client that went away or refused our certificate
            log.debug("connection dropped before its first request: %s", exc)
            return None
