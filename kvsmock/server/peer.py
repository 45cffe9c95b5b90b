"""Whether the client of a server connection has gone, found without reading from it."""

from __future__ import annotations

import select
import socket
from typing import Callable


def peer_gone_probe(sock: socket.socket | None) -> Callable[[], bool] | None:
    """A check that the client of a server connection (``sock``: plain or TLS) has gone.

    For the server's ``environ["werkzeug.socket"]``; ``None`` when there is no socket.
    """
    if sock is None:
        return None
    return lambda: peer_closed(sock)


def peer_closed(sock: socket.socket) -> bool:
    """True once the peer of a connected socket has closed or reset it. Reads nothing.

    Works on TCP and on TLS sockets alike because it looks below TLS: on
    Linux ``poll`` reports ``POLLRDHUP`` when the peer has shut its side even
    with unread bytes waiting (a TLS close_notify); elsewhere a readable
    socket whose raw peek (``MSG_PEEK`` on the TCP bytes, allowed on an
    ``ssl.SSLSocket`` through the plain socket method) gives ``b""`` has
    reached its end.
    """
    try:
        fd = sock.fileno()
    except (OSError, ValueError):
        return True
    if fd < 0:
        return True
    rdhup = getattr(select, "POLLRDHUP", 0)
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | rdhup)
        try:
            events = poller.poll(0)
        except OSError:
            return True
        if not events:
            return False
        revents = events[0][1]
        if revents & (select.POLLHUP | select.POLLERR | select.POLLNVAL | rdhup):
            return True
        if rdhup:
            return False  # readable without RDHUP: the client sent bytes, it has not gone
    else:
        try:
            readable, _, _ = select.select([fd], [], [], 0)
        except (OSError, ValueError):
            return True
        if not readable:
            return False
    try:
        return socket.socket.recv(sock, 1, socket.MSG_PEEK | getattr(socket, "MSG_DONTWAIT", 0)) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
