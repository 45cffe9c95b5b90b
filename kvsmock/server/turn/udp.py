"""TURN over UDP: the server's UDP port, and the relay sockets of allocations."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from typing import Callable

from .allocations import Address, Client

#: Datagrams read from a relay socket in one go before other work gets a turn.
_READS_PER_WAKEUP = 64
#: Attempts at binding an even port when EVEN-PORT asks for one.
_EVEN_PORT_ATTEMPTS = 32
#: Linux's IP_MTU_DISCOVER and IP_PMTUDISC_DO (the DF bit on every datagram); Python's socket module lacks them.
_IP_MTU_DISCOVER, _IP_PMTUDISC_DO = 10, 2


class TurnDatagramProtocol(asyncio.DatagramProtocol):
    """The server's UDP port: each datagram goes to ``received(client, data)``."""

    transport: asyncio.DatagramTransport | None = None

    def __init__(self, received: Callable[[Client, bytes], None]):
        self._received = received

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        self._received(Client("udp", (addr[0], addr[1])), data)

    def error_received(self, exc: Exception) -> None:  # ICMP errors from clients that went away
        pass


def open_relay_socket(host: str, even_port: bool = False, dont_fragment: bool = False) -> socket.socket:
    """A non-blocking UDP socket on ``host`` and a free port (even, if asked); OSError when none can be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(_EVEN_PORT_ATTEMPTS if even_port else 1):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            sock.bind((host, 0))
        except OSError:
            sock.close()
            raise
        if not even_port or sock.getsockname()[1] % 2 == 0:
            if dont_fragment and family == socket.AF_INET and sys.platform.startswith("linux"):
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_IP, _IP_MTU_DISCOVER, _IP_PMTUDISC_DO)
            return sock
        sock.close()
    raise OSError("no even port could be bound")


class RelaySocket:
    """An allocation's relayed transport address: a UDP socket the loop reads (``on_datagram(peer, data)``)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket,
                 on_datagram: Callable[[Address, bytes], None]):
        self._loop = loop
        self._sock = sock
        self._on_datagram = on_datagram
        self.address: Address = sock.getsockname()[:2]
        loop.add_reader(sock.fileno(), self._readable)

    def _readable(self) -> None:
        for _ in range(_READS_PER_WAKEUP):
            try:
                data, peer = self._sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # an ICMP error for an earlier send: nothing to read
                continue
            self._on_datagram((peer[0], peer[1]), data)

    def send(self, data: bytes, peer: Address) -> None:
        """Send a datagram to ``peer`` (dropped when the socket cannot take it now: it is UDP)."""
        with contextlib.suppress(OSError):
            self._sock.sendto(data, peer)

    def close(self) -> None:
        if self._sock.fileno() >= 0:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
