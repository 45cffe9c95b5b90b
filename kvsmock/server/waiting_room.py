"""Where accepted connections wait for their first byte without holding a thread.

A connection that has been accepted but has sent nothing yet (a half-open
client, a browser's spare connection, a flood of connects) is watched by one
selector thread. Only when it has sent something is it handed to a worker
thread; if it closes or stays silent past its time limit it is closed right
here. So the number of threads follows the number of connections that are
really talking, and a burst of idle connections cannot starve the others.
"""

from __future__ import annotations

import logging
import os
import selectors
import socket
import threading
import time
from typing import Any, Callable, cast

log = logging.getLogger("kvsmock.server")


class WaitingRoom:
    """Holds sockets until they are readable, then calls ``ready(sock, address)`` (in this room's thread)."""

    def __init__(self, ready: Callable[[socket.socket, Any], None], timeout: float):
        self._ready = ready
        self._timeout = timeout
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._incoming: list[tuple[socket.socket, Any]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="kvsmock-waiting-room", daemon=True)
        self._thread.start()

    def add(self, sock: socket.socket, address: Any) -> None:
        """Watch a newly accepted connection (cheap: called on the accepting thread)."""
        with self._lock:
            if self._closed:
                _close(sock)
                return
            self._incoming.append((sock, address))
            os.write(self._wake_w, b"\0")

    def close(self) -> None:
        """Close every waiting connection and stop the room's thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.write(self._wake_w, b"\0")
        self._thread.join(5)
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _run(self) -> None:
        deadlines: dict[socket.socket, float] = {}
        while True:
            timeout = max(0.0, min(deadlines.values()) - time.monotonic()) if deadlines else None
            for key, _ in self._selector.select(timeout):
                if key.data is None:  # woken: new connections, or closing
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
                    continue
                sock, address = cast(socket.socket, key.fileobj), key.data
                self._selector.unregister(sock)
                del deadlines[sock]
                self._hand_over(sock, address)
            with self._lock:
                incoming, self._incoming = self._incoming, []
                closed = self._closed
            if closed:
                for sock in list(deadlines) + [s for s, _ in incoming]:
                    _close(sock)
                self._selector.close()
                return
            now = time.monotonic()
            for sock, address in incoming:
                try:
                    self._selector.register(sock, selectors.EVENT_READ, address)
                except (ValueError, OSError):  # closed before we got to it
                    _close(sock)
                    continue
                deadlines[sock] = now + self._timeout
            for sock in [s for s, deadline in deadlines.items() if deadline <= now]:
                self._selector.unregister(sock)
                del deadlines[sock]
                _close(sock)  # silent for too long

    def _hand_over(self, sock: socket.socket, address: Any) -> None:
        try:
            if not sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT):
                _close(sock)  # closed without a word: no thread needed
                return
        except BlockingIOError:  # readable but nothing to read (spurious): hand it over anyway
            pass
        except OSError:
            _close(sock)
            return
        try:
            self._ready(sock, address)
        except Exception:  # a fault in kvsmock: log it, drop this connection, keep the room open
            log.exception("kvsmock could not start a connection")
            _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass
