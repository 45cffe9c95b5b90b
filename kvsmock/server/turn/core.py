"""The TURN server (RFC 8656) without I/O: messages in, messages and effects out.

:class:`TurnCore` holds every allocation and answers what clients and peers
send. Its inputs are bytes with the address they came from and the time;
its outputs are what the transport must do:

* :class:`Send` — bytes for a client (over the transport it used);
* :class:`Relay` — a datagram the allocation's relay socket sends to a peer;
* :class:`OpenRelay` — open a relay socket, then report its address with
  :meth:`TurnCore.relay_opened` (or :meth:`TurnCore.relay_failed`), which
  answers the Allocate;
* :class:`Freed` — an allocation ended: close its relay socket, bill it.

Handled: Binding (STUN, no credentials), Allocate, Refresh,
CreatePermission and ChannelBind with the long-term credential mechanism;
Send and Data indications; ChannelData. Not handled: TCP allocations
(RFC 6062), reservations (EVEN-PORT is honoured, RESERVATION-TOKEN is an
unknown attribute), dual-stack allocations, bandwidth limits.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from typing import Any, Union

from aioice import stun
from aioice.stun import Class, Message, Method

from ...service.quotas import quotas
from . import codec
from .allocations import (
    MAX_ALLOCATIONS_PER_CHANNEL,
    Address,
    Allocation,
    Client,
    granted_lifetime,
)
from .auth import REALM, Authority, Grant, Nonces, long_term_key

SOFTWARE = "kvsmock"
#: REQUESTED-TRANSPORT's protocol number for UDP, the only relayed transport.
UDP_PROTOCOL = 17

REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    420: "Unknown Attribute",
    437: "Allocation Mismatch",
    438: "Stale Nonce",
    440: "Address Family not Supported",
    441: "Wrong Credentials",
    442: "Unsupported Transport Protocol",
    443: "Peer Address Family Mismatch",
    486: "Allocation Quota Reached",
    508: "Insufficient Capacity",
}

#: Comprehension-required attributes understood beside those aioice parses.
_EXTRA_KNOWN = {codec.ATTR_REQUESTED_ADDRESS_FAMILY, codec.ATTR_EVEN_PORT, codec.ATTR_DONT_FRAGMENT}
_KNOWN = set(stun.ATTRIBUTES_BY_TYPE) | _EXTRA_KNOWN
_FAMILIES = {1: 4, 2: 6}
_TURN_REQUESTS = {Method.ALLOCATE, Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND}


# ------------------------------------------------------------------ outputs
@dataclass(frozen=True)
class Send:
    """Bytes for a client."""

    client: Client
    data: bytes


@dataclass(frozen=True)
class Relay:
    """A datagram for allocation ``allocation``'s relay socket to send to ``peer``."""

    allocation: int
    peer: Address
    data: bytes


@dataclass(frozen=True)
class OpenRelay:
    """Open a relay socket for allocation ``allocation`` (IPv4 or IPv6, as ``family`` says)."""

    allocation: int
    family: int
    even_port: bool = False
    dont_fragment: bool = False


@dataclass(frozen=True)
class Freed:
    """Allocation ``allocation`` ended at ``ended`` (``reason``): close its relay socket, bill ``ended - started``."""

    allocation: int
    channel_arn: str
    username: str
    relayed: Address | None
    started: float
    ended: float
    reason: str


Output = Union[Send, Relay, OpenRelay, Freed]


@dataclass(frozen=True)
class _Auth:
    username: str
    grant: Grant
    key: bytes


def _family_of(host: str) -> int:
    return ipaddress.ip_address(host).version


def _requested_family(value: bytes) -> int:
    """The IP version a REQUESTED-ADDRESS-FAMILY value asks for (0 for none known)."""
    return _FAMILIES.get(value[0], 0) if value else 0


class TurnCore:
    """Every allocation of one TURN server, and the rules for each message.

    ``relay_family`` (4 or 6) is the family of the relayed addresses the
    transport can open. Nothing here blocks or reads a clock: ``now`` (epoch
    seconds of the emulator clock) comes with every call.
    """

    def __init__(self, authority: Authority, *, realm: str = REALM, relay_family: int = 4,
                 nonces: Nonces | None = None, software: str = SOFTWARE):
        self.authority = authority
        self.realm = realm
        self.relay_family = relay_family
        self.nonces = nonces or Nonces()
        self.software = software
        self._allocations: dict[int, Allocation] = {}
        self._by_client: dict[Client, Allocation] = {}
        self._ids = itertools.count(1)

    # ------------------------------------------------------------- queries
    @property
    def allocations(self) -> list[Allocation]:
        return list(self._allocations.values())

    def allocation(self, allocation_id: int) -> Allocation | None:
        return self._allocations.get(allocation_id)

    # -------------------------------------------------------------- inputs
    def receive(self, client: Client, data: bytes, now: float) -> list[Output]:
        """Bytes from a client: a STUN message or ChannelData (anything else is dropped)."""
        if codec.is_channel_data(data):
            return self._channel_data(client, data, now)
        message = codec.parse(data)
        if message is None:
            return []
        if message.message_class == Class.REQUEST:
            return self._request(client, message, data, now)
        if message.message_class == Class.INDICATION and message.message_method == Method.SEND:
            return self._send_indication(client, message, now)
        return []  # responses, and indications a server does not take

    def from_peer(self, allocation_id: int, peer: Address, data: bytes, now: float) -> list[Output]:
        """A datagram a peer sent to an allocation's relayed address."""
        allocation = self._allocations.get(allocation_id)
        if allocation is None:
            return []
        if allocation.expired(now):
            return self._free(allocation, allocation.expires, "expired")
        if not allocation.permits(peer[0], now):
            return []  # no permission: dropped (section 11.4)
        number = allocation.channel_for(peer, now)
        if number is not None:
            return [Send(allocation.client, codec.channel_data(number, data))]
        indication = Message(Method.DATA, Class.INDICATION, attributes={"XOR-PEER-ADDRESS": peer, "DATA": data})
        return [Send(allocation.client, bytes(indication))]

    def relay_opened(self, allocation_id: int, relayed: Address, now: float) -> list[Output]:
        """The relay socket of a new allocation is open at ``relayed``: answer the Allocate."""
        allocation = self._allocations.get(allocation_id)
        if allocation is None:
            return []
        allocation.relayed = relayed
        return [Send(allocation.client, self._allocate_success(allocation, now))]

    def relay_failed(self, allocation_id: int, now: float) -> list[Output]:
        """No relay socket could be opened: the Allocate fails with 508."""
        allocation = self._allocations.pop(allocation_id, None)
        if allocation is None:
            return []
        self._by_client.pop(allocation.client, None)
        request = Message(Method.ALLOCATE, Class.REQUEST, allocation.transaction_id)
        return [Send(allocation.client, self._error(request, 508, key=allocation.key))]

    def client_gone(self, client: Client, now: float) -> list[Output]:
        """A TCP client's connection closed: its allocation goes with it."""
        allocation = self._by_client.get(client)
        return self._free(allocation, now, "connection closed") if allocation is not None else []

    def expire(self, now: float) -> list[Output]:
        """Free allocations whose lifetime has run out; forget ended permissions and bindings."""
        out: list[Output] = []
        for allocation in list(self._allocations.values()):
            if allocation.expired(now):
                out += self._free(allocation, allocation.expires, "expired")
            else:
                allocation.prune(now)
        return out

    def check_channels(self, now: float) -> list[Output]:
        """Free the allocations of signaling channels that no longer exist."""
        out: list[Output] = []
        alive: dict[str, bool] = {}
        for allocation in list(self._allocations.values()):
            arn = allocation.channel_arn
            if arn not in alive:
                alive[arn] = self.authority.channel_exists(arn)
            if not alive[arn]:
                out += self._free(allocation, now, "channel deleted")
        return out

    def close(self, now: float) -> list[Output]:
        """The server stops: every allocation is freed."""
        out: list[Output] = []
        for allocation in list(self._allocations.values()):
            out += self._free(allocation, min(now, allocation.expires), "server stopped")
        return out

    # ----------------------------------------------------------- requests
    def _request(self, client: Client, request: Message, data: bytes, now: float) -> list[Output]:
        method = request.message_method
        if method == Method.BINDING:
            try:
                return [Send(client, self._success(request, {"XOR-MAPPED-ADDRESS": client.address}))]
            except ValueError:  # an address STUN cannot carry (a scoped IPv6 address)
                return []
        out = self.expire(now)
        current = self._by_client.get(client)
        if current is not None and not self.authority.channel_exists(current.channel_arn):
            out += self._free(current, now, "channel deleted")  # its credentials fail below: 401
        if method not in _TURN_REQUESTS:
            return out + [Send(client, self._error(request, 400))]
        auth = self._authenticate(request, now)
        if isinstance(auth, bytes):
            return out + [Send(client, auth)]
        unknown = [kind for kind, _ in codec.raw_attributes(data) if kind < 0x8000 and kind not in _KNOWN]
        if unknown:
            extra = [codec.unknown_attributes(dict.fromkeys(unknown))]
            return out + [Send(client, self._error(request, 420, key=auth.key, extra=extra))]
        if method == Method.ALLOCATE:
            return out + self._allocate(client, request, data, auth, now)
        allocation = self._by_client.get(client)
        if allocation is None or allocation.relayed is None:
            return out + [Send(client, self._error(request, 437, key=auth.key))]
        if allocation.username != auth.username:
            return out + [Send(client, self._error(request, 441, key=auth.key))]
        if method == Method.REFRESH:
            return out + self._refresh(allocation, request, data, auth, now)
        if method == Method.CREATE_PERMISSION:
            return out + self._create_permission(allocation, request, data, auth, now)
        return out + self._channel_bind(allocation, request, auth, now)

    def _authenticate(self, request: Message, now: float) -> _Auth | bytes:
        """The request's credentials, or the error response that refuses it (RFC 8489 section 9.2.4)."""
        attributes = request.attributes
        if "MESSAGE-INTEGRITY" not in attributes:
            return self._challenge(request, 401, now)
        if not all(name in attributes for name in ("USERNAME", "REALM", "NONCE")):
            return self._error(request, 400)
        if not self.nonces.valid(attributes["NONCE"], now):
            return self._challenge(request, 438, now)
        username = attributes["USERNAME"]
        grant = self.authority.grant(username)
        if grant is None:
            return self._challenge(request, 401, now)
        key = long_term_key(username, self.realm, grant.password)
        if not request.check_message_integrity(key):
            return self._challenge(request, 401, now)
        return _Auth(username, grant, key)

    def _allocate(self, client: Client, request: Message, data: bytes, auth: _Auth, now: float) -> list[Output]:
        existing = self._by_client.get(client)
        if existing is not None:
            if existing.transaction_id != request.transaction_id:
                return [Send(client, self._error(request, 437, key=auth.key))]
            if existing.relayed is None:
                return []  # a retransmission while the relay opens: the answer is on its way
            return [Send(client, self._allocate_success(existing, now))]
        if auth.grant.expires <= now:  # the username's TTL is over: it can no longer allocate
            return [Send(client, self._challenge(request, 401, now))]
        raw = dict(codec.raw_attributes(data))
        transport = request.attributes.get("REQUESTED-TRANSPORT")
        if transport is None:
            return [Send(client, self._error(request, 400, "REQUESTED-TRANSPORT is missing", key=auth.key))]
        if transport >> 24 != UDP_PROTOCOL:
            return [Send(client, self._error(request, 442, key=auth.key))]
        family = self.relay_family
        if codec.ATTR_REQUESTED_ADDRESS_FAMILY in raw:
            family = _requested_family(raw[codec.ATTR_REQUESTED_ADDRESS_FAMILY])
            if family == 0:
                return [Send(client, self._error(request, 400, "unknown address family", key=auth.key))]
            if family != self.relay_family:
                return [Send(client, self._error(request, 440, key=auth.key))]
        channel_arn = auth.grant.channel_arn
        if quotas.enforced and sum(a.channel_arn == channel_arn for a in self._allocations.values()) >= MAX_ALLOCATIONS_PER_CHANNEL:
            return [Send(client, self._error(request, 486, key=auth.key))]
        lifetime = granted_lifetime(request.attributes.get("LIFETIME"))
        allocation = Allocation(
            id=next(self._ids), client=client, username=auth.username, channel_arn=channel_arn, key=auth.key,
            transaction_id=request.transaction_id, created=now, expires=now + lifetime,
        )
        self._allocations[allocation.id] = allocation
        self._by_client[client] = allocation
        return [OpenRelay(allocation.id, family, codec.ATTR_EVEN_PORT in raw, codec.ATTR_DONT_FRAGMENT in raw)]

    def _allocate_success(self, allocation: Allocation, now: float) -> bytes:
        assert allocation.relayed is not None
        request = Message(Method.ALLOCATE, Class.REQUEST, allocation.transaction_id)
        attributes = {
            "XOR-RELAYED-ADDRESS": allocation.relayed,
            "LIFETIME": max(0, int(allocation.expires - now)),
            "XOR-MAPPED-ADDRESS": allocation.client.address,
        }
        return self._success(request, attributes, allocation.key)

    def _refresh(self, allocation: Allocation, request: Message, data: bytes, auth: _Auth, now: float) -> list[Output]:
        family = dict(codec.raw_attributes(data)).get(codec.ATTR_REQUESTED_ADDRESS_FAMILY)
        if family is not None and _requested_family(family) != self.relay_family:
            return [Send(allocation.client, self._error(request, 443, key=auth.key))]
        requested = request.attributes.get("LIFETIME")
        if requested == 0:
            out = self._free(allocation, now, "deleted")
            return out + [Send(allocation.client, self._success(request, {"LIFETIME": 0}, auth.key))]
        lifetime = granted_lifetime(requested)
        allocation.refresh(lifetime, now)
        return [Send(allocation.client, self._success(request, {"LIFETIME": lifetime}, auth.key))]

    def _create_permission(self, allocation: Allocation, request: Message, data: bytes, auth: _Auth,
                           now: float) -> list[Output]:
        try:
            peers = codec.peer_addresses(data, request.transaction_id)
        except ValueError:
            peers = []
        if not peers:
            return [Send(allocation.client, self._error(request, 400, "XOR-PEER-ADDRESS is missing", key=auth.key))]
        if any(_family_of(host) != self.relay_family for host, _ in peers):
            return [Send(allocation.client, self._error(request, 443, key=auth.key))]
        for host, _ in peers:
            allocation.permit(host, now)
        return [Send(allocation.client, self._success(request, {}, auth.key))]

    def _channel_bind(self, allocation: Allocation, request: Message, auth: _Auth, now: float) -> list[Output]:
        number = request.attributes.get("CHANNEL-NUMBER")
        peer = request.attributes.get("XOR-PEER-ADDRESS")
        if number is None or peer is None:
            reason = "CHANNEL-NUMBER and XOR-PEER-ADDRESS are required"
            return [Send(allocation.client, self._error(request, 400, reason, key=auth.key))]
        if _family_of(peer[0]) != self.relay_family:
            return [Send(allocation.client, self._error(request, 443, key=auth.key))]
        refusal = allocation.bind(number, (peer[0], peer[1]), now)
        if refusal is not None:
            return [Send(allocation.client, self._error(request, 400, refusal, key=auth.key))]
        return [Send(allocation.client, self._success(request, {}, auth.key))]

    # -------------------------------------------------------- client data
    def _send_indication(self, client: Client, message: Message, now: float) -> list[Output]:
        allocation = self._live(client, now)
        peer, data = message.attributes.get("XOR-PEER-ADDRESS"), message.attributes.get("DATA")
        if allocation is None or peer is None or data is None or not allocation.permits(peer[0], now):
            return []  # indications are never answered: dropped (section 10.2)
        return [Relay(allocation.id, (peer[0], peer[1]), data)]

    def _channel_data(self, client: Client, data: bytes, now: float) -> list[Output]:
        parsed = codec.parse_channel_data(data)
        allocation = self._live(client, now)
        if parsed is None or allocation is None:
            return []
        number, payload = parsed
        binding = allocation.channel(number, now)
        if binding is None or not allocation.permits(binding.peer[0], now):
            return []  # unbound channel: dropped (section 12.4)
        return [Relay(allocation.id, binding.peer, payload)]

    def _live(self, client: Client, now: float) -> Allocation | None:
        allocation = self._by_client.get(client)
        if allocation is None or allocation.relayed is None or allocation.expired(now):
            return None
        return allocation

    # ------------------------------------------------------------ helpers
    def _free(self, allocation: Allocation, ended: float, reason: str) -> list[Output]:
        if self._allocations.pop(allocation.id, None) is None:
            return []
        if self._by_client.get(allocation.client) is allocation:
            del self._by_client[allocation.client]
        return [Freed(allocation.id, allocation.channel_arn, allocation.username, allocation.relayed,
                      allocation.created, max(ended, allocation.created), reason)]

    def _response(self, request: Message, klass: Class, attributes: dict[str, Any]) -> Message:
        attributes = {**attributes, "SOFTWARE": self.software}
        return Message(request.message_method, klass, request.transaction_id, attributes)

    def _success(self, request: Message, attributes: dict[str, Any], key: bytes | None = None) -> bytes:
        return codec.encode(self._response(request, Class.RESPONSE, attributes), key)

    def _error(self, request: Message, code: int, reason: str | None = None, *, key: bytes | None = None,
               attributes: dict[str, Any] | None = None, extra: list[tuple[int, bytes]] | None = None) -> bytes:
        text = REASONS.get(code, "Error") if reason is None else f"{REASONS.get(code, 'Error')}: {reason}"
        message = self._response(request, Class.ERROR, {"ERROR-CODE": (code, text), **(attributes or {})})
        return codec.encode(message, key, extra or ())

    def _challenge(self, request: Message, code: int, now: float) -> bytes:
        """401 or 438 with the realm and a fresh nonce, unsigned (the client may not have the key)."""
        return self._error(request, code, attributes={"REALM": self.realm, "NONCE": self.nonces.issue(now)})


def error_code(data: bytes) -> int | None:
    """The ERROR-CODE of a STUN error response (for tests and logs)."""
    message = codec.parse(data)
    if message is None or message.message_class != Class.ERROR:
        return None
    return message.error_code


__all__ = ["Client", "Freed", "OpenRelay", "Output", "Relay", "Send", "TurnCore", "error_code"]
