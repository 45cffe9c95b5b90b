"""kvsmock's TURN server in a running asyncio loop: the sans-I/O core and its sockets.

:class:`TurnServer` owns a :class:`~kvsmock.server.turn.core.TurnCore` and
performs what it asks: it answers clients on the UDP port and on the TCP or
TLS connections handed to it, opens and closes relay sockets, bills freed
allocations. Time is the emulator's clock; once a second (wall time) it
frees expired allocations and those of deleted channels. Every method runs
on the loop's thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import Any, Callable

from ... import clock
from .allocations import Address, Client
from .core import Freed, OpenRelay, Output, Relay, Send, TurnCore
from .credentials import BackendAuthority
from .tcp import TurnStreamProtocol
from .udp import RelaySocket, TurnDatagramProtocol, open_relay_socket

log = logging.getLogger("kvsmock.turn")

#: Seconds of wall time between sweeps for expired allocations and deleted channels.
TICK_SECONDS = 1.0


def _ip_address(host: str) -> str:
    """``host`` as an IP address (relayed addresses travel as addresses; a name is looked up once)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_DGRAM)[0][4][0])


class TurnServer:
    """A TURN server whose relayed addresses are UDP sockets on ``relay_host``.

    ``listen_udp`` binds the UDP port; :meth:`stream_protocol` is the
    protocol factory for TCP (and TLS) connections a listener hands over;
    :meth:`close` frees every allocation and closes every socket.
    """

    def __init__(self, authority: BackendAuthority, relay_host: str, bind_host: str | None = None,
                 now: Callable[[], float] = clock.now):
        self.authority = authority
        self.relay_host = _ip_address(relay_host)
        self.bind_host = _ip_address(bind_host) if bind_host else self.relay_host
        self._now = now
        self.core = TurnCore(authority, relay_family=ipaddress.ip_address(self.relay_host).version)
        self._loop = asyncio.get_running_loop()
        self._udp: asyncio.DatagramTransport | None = None
        self._streams: dict[Client, TurnStreamProtocol] = {}
        self._relays: dict[int, RelaySocket] = {}
        self._tick = self._loop.create_task(self._sweep())
        self.closed = False

    # ------------------------------------------------------------ listening
    async def listen_udp(self, host: str, port: int) -> int:
        """Serve STUN and TURN on UDP ``host:port``; returns the port (OSError when it is taken)."""
        transport, _ = await self._loop.create_datagram_endpoint(
            lambda: TurnDatagramProtocol(self.received), local_addr=(host, port)
        )
        self._udp = transport
        return transport.get_extra_info("sockname")[1]

    def close_udp(self) -> None:
        """Stop listening on the UDP port (to listen on another)."""
        if self._udp is not None:
            self._udp.close()
            self._udp = None

    def stream_protocol(self) -> TurnStreamProtocol:
        """A protocol for one TURN-over-TCP (or TLS) connection."""
        return TurnStreamProtocol(self.received, self._stream_opened, self.client_gone)

    # --------------------------------------------------------------- inputs
    def received(self, client: Client, data: bytes) -> None:
        self._perform(self.core.receive(client, data, self._now()))

    def from_peer(self, allocation_id: int, peer: Address, data: bytes) -> None:
        self._perform(self.core.from_peer(allocation_id, peer, data, self._now()))

    def client_gone(self, client: Client) -> None:
        self._streams.pop(client, None)
        self._perform(self.core.client_gone(client, self._now()))

    def _stream_opened(self, client: Client, protocol: TurnStreamProtocol) -> None:
        if self.closed:
            protocol.close()
            return
        self._streams[client] = protocol

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            self.sweep()

    def sweep(self) -> None:
        """Free expired allocations and those of deleted channels now."""
        now = self._now()
        try:
            self._perform(self.core.expire(now) + self.core.check_channels(now))
        except Exception:  # never let the sweep die
            log.exception("TURN sweep failed")

    # -------------------------------------------------------------- outputs
    def _perform(self, outputs: list[Output]) -> None:
        for output in outputs:
            if isinstance(output, Send):
                self._send(output.client, output.data)
            elif isinstance(output, Relay):
                relay = self._relays.get(output.allocation)
                if relay is not None:
                    relay.send(output.data, output.peer)
            elif isinstance(output, OpenRelay):
                self._perform(self._open_relay(output))
            elif isinstance(output, Freed):
                self._freed(output)

    def _send(self, client: Client, data: bytes) -> None:
        if client.transport == "udp":
            if self._udp is not None and not self._udp.is_closing():
                self._udp.sendto(data, client.address)
        else:
            stream = self._streams.get(client)
            if stream is not None:
                stream.write(data)

    def _open_relay(self, request: OpenRelay) -> list[Output]:
        now = self._now()
        if self.closed:
            return self.core.relay_failed(request.allocation, now)
        try:
            sock = open_relay_socket(self.bind_host, request.even_port, request.dont_fragment)
        except OSError as exc:
            log.warning("TURN relay socket could not be opened: %s", exc)
            return self.core.relay_failed(request.allocation, now)
        allocation_id = request.allocation
        relay = RelaySocket(self._loop, sock, lambda peer, data: self.from_peer(allocation_id, peer, data))
        self._relays[allocation_id] = relay
        return self.core.relay_opened(allocation_id, (self.relay_host, relay.address[1]), now)

    def _freed(self, freed: Freed) -> None:
        relay = self._relays.pop(freed.allocation, None)
        if relay is not None:
            relay.close()
        try:
            self.authority.bill(freed)
        except Exception:  # billing must not break relaying
            log.exception("TURN allocation could not be billed")

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Free every allocation (billing it), close the relay sockets, the connections and the UDP port."""
        if self.closed:
            return
        self.closed = True
        self._tick.cancel()
        self._perform(self.core.close(self._now()))
        for stream in list(self._streams.values()):
            stream.close()
        self._streams.clear()
        if self._udp is not None:
            self._udp.close()

    def allocations(self) -> list[dict[str, Any]]:
        """What is allocated now (for tests and the curious)."""
        return [
            {
                "Transport": a.client.transport,
                "Client": a.client.address,
                "ChannelARN": a.channel_arn,
                "Username": a.username,
                "Relayed": a.relayed,
                "Created": a.created,
                "Expires": a.expires,
                "Permissions": sorted(a.permissions),
                "Channels": {number: b.peer for number, b in a.channels.items()},
            }
            for a in self.core.allocations
        ]
