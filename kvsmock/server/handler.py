"""The per-connection request handler: werkzeug's (through moto's), fitted to kvsmock's server."""

from __future__ import annotations

import logging
import os
import socket
import ssl
from typing import Any

from .app import RESPONSE_KEY, WRITER_KEY

log = logging.getLogger("kvsmock.server")


class CoalescingWriter:
    """A connection's output, sent one piece at a time instead of one write at a time.

    werkzeug writes a response chunk as its size line, its data and a CRLF,
    then flushes: here those three go out in one send, so an ACK line or a
    GetMedia chunk leaves as one TCP segment instead of several. The writes
    werkzeug does not flush (the ``100 Continue`` line, the last chunk of a
    response) end in a blank line, and go out at once. While ``holding``
    (set by the response body for pieces that are ready together), a flush
    waits for the next. A TLS connection the client has closed fails a
    write as a reset connection, which werkzeug treats as a client gone.

    On a plain socket another thread may send body chunks for the
    connection's own while that one waits (:meth:`send_now`: a live
    GetMedia's fan-out); what such a send leaves goes out first at the
    connection's next flush.
    """

    #: Pieces up to this size are joined into one send; larger ones go out as they are (no copy), in one
    #: gathered send on a plain socket (``sendmsg``), piece by piece over TLS.
    JOIN_LIMIT = 64 * 1024

    def __init__(self, raw: Any, sock: socket.socket | None = None, chunked: bool = True):
        self._raw = raw
        #: The plain socket under ``raw`` (None over TLS): large pieces go out in one ``sendmsg``.
        self._sock = sock if sock is not None and not isinstance(sock, ssl.SSLSocket) else None
        #: Whether werkzeug frames a streamed body in HTTP chunks (its protocol is HTTP/1.1).
        self._chunked = chunked
        self._pending: list[bytes] = []
        self._size = 0
        #: What :meth:`send_now` could not send at once, and the error that stopped it, if one did.
        self._unsent: list[memoryview] = []
        self._failed: OSError | None = None
        #: True while the response body has more pieces ready to go in the same write.
        self.holding = False

    @property
    def can_send_now(self) -> bool:
        """Whether :meth:`send_now` works on this connection (a plain, blocking socket: not TLS, no timeout)."""
        return self._sock is not None and self._sock.gettimeout() is None

    def send_now(self, pieces: list[bytes]) -> bool:
        """Send ``pieces`` as body chunks (as werkzeug frames them) without waiting for the socket; called
        by another thread while the connection's own waits. True when all went; otherwise the rest (or
        the error that stopped the send) is for the connection's own thread, at its next :meth:`flush`."""
        assert self._sock is not None and not self._pending and not self._unsent and self._failed is None
        framed: list[bytes] = []
        for piece in pieces:
            if self._chunked:
                framed += [b"%x\r\n" % len(piece), piece, b"\r\n"]
            else:
                framed.append(piece)
        try:
            self._unsent = _send_gathered(self._sock, framed, socket.MSG_DONTWAIT)
        except OSError as exc:
            self._failed = exc
            return False
        return not self._unsent

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._pending.append(data)
        self._size += len(data)
        if data.endswith(b"\r\n\r\n"):
            self.flush()
        return len(data)

    def flush(self) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        if self._unsent:
            assert self._sock is not None
            unsent, self._unsent = self._unsent, []
            _send_gathered(self._sock, unsent)
        if self.holding:
            return
        pending, self._pending, size, self._size = self._pending, [], self._size, 0
        if not pending:
            return
        try:
            if size <= self.JOIN_LIMIT:
                self._raw.write(b"".join(pending))
            elif self._sock is not None:
                _send_gathered(self._sock, pending)
            else:
                for piece in pending:
                    self._raw.write(piece)
            self._raw.flush()
        except ssl.SSLZeroReturnError as exc:  # the client closed its TLS session
            raise ConnectionResetError(str(exc)) from exc

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    def close(self) -> None:
        self.holding = False
        try:
            self.flush()
        finally:
            self._raw.close()


#: Bytes a connection's reads are buffered in (the standard library's default is 8 KiB).
READ_BUFFER = 64 * 1024

#: The most buffers one ``sendmsg`` takes (POSIX IOV_MAX is at least 16; Linux takes 1024).
_IOV_MAX = min(os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16, 1024)


def _send_gathered(sock: socket.socket, pieces: list[bytes] | list[memoryview], flags: int = 0) -> list[memoryview]:
    """Send ``pieces`` in as few ``sendmsg`` calls as the socket takes (no joined copy); what is left
    when a send with ``flags`` (``MSG_DONTWAIT``) would have to wait."""
    views = [memoryview(piece) for piece in pieces if piece]
    while views:
        try:
            sent = sock.sendmsg(views[:_IOV_MAX], [], flags)
        except BlockingIOError:
            return views
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0] = views[0][sent:]
                sent = 0
    return views


def request_handler(base: type) -> type:
    """``base`` (a werkzeug request handler class) made to:

    * report each connection's own scheme (HTTP and HTTPS share a port, see
      :mod:`kvsmock.server.one_port`);
    * end a connection whose TLS fails quietly (a client that refused the
      certificate), as werkzeug only does when it owns the TLS itself;
    * send one ``100 Continue`` to ``Expect: 100-continue`` (the C producer
      SDK's PutMedia asks for it): werkzeug sends it when it builds the
      request's environ, so the answer that ``http.server`` would also send
      while parsing the headers is left out;
    * send each piece of a response in one write (:class:`CoalescingWriter`);
    * read the connection through a 64 KiB buffer, so a PutMedia chunk (its
      size line, data and CRLF) usually comes in one ``recv`` rather than
      four: each ``recv`` gives up the GIL and waits to take it back.
    """

    class KvsRequestHandler(base):
        rbufsize = READ_BUFFER

        def setup(self) -> None:
            super().setup()
            chunked = self.protocol_version >= "HTTP/1.1"  # as werkzeug decides it for a body of unknown length
            self.wfile = CoalescingWriter(self.wfile, self.connection, chunked)  # type: ignore[has-type]

        def make_environ(self) -> dict:
            environ = super().make_environ()
            environ["wsgi.url_scheme"] = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
            environ[WRITER_KEY] = self.wfile
            return environ

        def handle_expect_100(self) -> bool:
            return True

        def handle(self) -> None:
            try:
                super().handle()
            except ssl.SSLError as exc:
                log.debug("TLS connection ended with an error: %s", exc)

        def connection_dropped(self, error: BaseException, environ: Any = None) -> None:
            # werkzeug reads what the client left unread after the response and, if that read finds
            # the connection reset, never calls the response's close(): a GetMedia would keep its slot.
            body = (environ or {}).get(RESPONSE_KEY)
            if body is not None:
                body.close()
            super().connection_dropped(error, environ)

        def finish(self) -> None:
            try:
                super().finish()
            except OSError:  # the client has gone: what is still pending for it cannot be sent
                pass

    return KvsRequestHandler
