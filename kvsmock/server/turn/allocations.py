"""TURN allocations (RFC 8656): lifetimes, permissions and channel bindings.

An allocation is a relayed transport address held for one client (its
5-tuple) until its lifetime runs out or the client deletes it. Peers may
send to it only from IP addresses the client gave a permission to (5
minutes each); a channel binding (10 minutes) ties a channel number to one
peer address, so both directions can use the 4-byte ChannelData header
instead of a STUN indication. Plain state and rules: time is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Allocation lifetimes (seconds): what a client gets without asking, and the most it can ask for.
DEFAULT_LIFETIME = 600
MAX_LIFETIME = 3600
#: Seconds a permission lasts (RFC 8656 section 9; not refreshable beyond this).
PERMISSION_LIFETIME = 300
#: Seconds a channel binding lasts (section 12).
CHANNEL_LIFETIME = 600
#: Seconds after a binding expired during which neither its number nor its peer may be bound otherwise.
CHANNEL_REBIND_GUARD = 300
#: The channel numbers a client may bind.
CHANNEL_MIN, CHANNEL_MAX = 0x4000, 0x4FFF
#: TURN allocations per signaling channel (the service's hard quota; lifted while quotas are off).
MAX_ALLOCATIONS_PER_CHANNEL = 50

Address = tuple[str, int]


def granted_lifetime(requested: int | None) -> int:
    """The lifetime a LIFETIME request gets: the default at least, the maximum at most (sections 7.2, 8.2)."""
    if requested is None:
        return DEFAULT_LIFETIME
    return max(DEFAULT_LIFETIME, min(requested, MAX_LIFETIME))


@dataclass(frozen=True)
class Client:
    """One client of the TURN server: its transport (``udp`` or ``tcp``) and address.

    With the server's own (fixed) address this is the allocation's 5-tuple;
    over TCP each connection is its own client.
    """

    transport: str
    address: Address


@dataclass
class ChannelBinding:
    number: int
    peer: Address
    expires: float

    def active(self, now: float) -> bool:
        return now < self.expires

    def guarded(self, now: float) -> bool:
        """Still holding its number and peer (active, or expired less than the guard time ago)."""
        return now < self.expires + CHANNEL_REBIND_GUARD


@dataclass(eq=False)
class Allocation:
    """One client's allocation; ``relayed`` is None while its relay socket is being opened."""

    id: int
    client: Client
    username: str
    channel_arn: str
    #: The long-term key of ``username``: every response to the client is signed with it.
    key: bytes
    #: The Allocate transaction that made it: a retransmission gets the same answer.
    transaction_id: bytes
    created: float
    expires: float
    relayed: Address | None = None
    #: Peer IP address -> when its permission ends.
    permissions: dict[str, float] = field(default_factory=dict)
    channels: dict[int, ChannelBinding] = field(default_factory=dict)
    #: Peer address -> channel number.
    peers: dict[Address, int] = field(default_factory=dict)

    def expired(self, now: float) -> bool:
        return now >= self.expires

    def refresh(self, lifetime: int, now: float) -> None:
        self.expires = now + lifetime

    # ------------------------------------------------------------ permissions
    def permit(self, ip: str, now: float) -> None:
        self.permissions[ip] = now + PERMISSION_LIFETIME

    def permits(self, ip: str, now: float) -> bool:
        return now < self.permissions.get(ip, 0.0)

    # --------------------------------------------------------------- channels
    def bind(self, number: int, peer: Address, now: float) -> str | None:
        """Bind (or refresh) channel ``number`` to ``peer``; the reason it may not, or None when done.

        A binding also installs or refreshes the permission for the peer's IP address.
        """
        if not CHANNEL_MIN <= number <= CHANNEL_MAX:
            return f"channel numbers are 0x{CHANNEL_MIN:04X} to 0x{CHANNEL_MAX:04X}"
        current = self.channels.get(number)
        if current is not None and current.peer != peer and current.guarded(now):
            return "the channel is bound to another peer"
        other = self.peers.get(peer)
        if other is not None and other != number and self.channels[other].guarded(now):
            return "the peer is bound to another channel"
        if current is not None and current.peer != peer:
            self.peers.pop(current.peer, None)
        if other is not None and other != number:
            del self.channels[other]
        self.channels[number] = ChannelBinding(number, peer, now + CHANNEL_LIFETIME)
        self.peers[peer] = number
        self.permit(peer[0], now)
        return None

    def channel(self, number: int, now: float) -> ChannelBinding | None:
        """The active binding of ``number``."""
        binding = self.channels.get(number)
        return binding if binding is not None and binding.active(now) else None

    def channel_for(self, peer: Address, now: float) -> int | None:
        """The number of ``peer``'s active binding."""
        number = self.peers.get(peer)
        if number is None or not self.channels[number].active(now):
            return None
        return number

    def prune(self, now: float) -> None:
        """Forget permissions that have ended and bindings past their guard time."""
        for ip in [ip for ip, ends in self.permissions.items() if ends <= now]:
            del self.permissions[ip]
        for number in [n for n, b in self.channels.items() if not b.guarded(now)]:
            self.peers.pop(self.channels.pop(number).peer, None)
