"""kvsmock's TURN server without sockets: the sans-I/O core, its codec, and the credentials it checks."""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from aioice import stun
from aioice.stun import Class, Message, Method

from kvsmock.server.turn import codec
from kvsmock.server.turn.allocations import CHANNEL_LIFETIME, MAX_ALLOCATIONS_PER_CHANNEL, Client
from kvsmock.server.turn.auth import REALM, Grant, Nonces, long_term_key
from kvsmock.server.turn.core import Freed, OpenRelay, Relay, Send, TurnCore, error_code
from kvsmock.service.signaling.ice_credentials import IceCredentials, parse_username
from kvsmock.service.usage import ChannelUsage

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/ch/1700000000000"
T0 = 1_700_000_000.0
UDP = 17 << 24
ALICE = Client("udp", ("10.0.0.1", 5000))
PEER = ("10.0.0.9", 7000)
RELAYED = ("127.0.0.1", 50000)


class FakeAuthority:
    """Usernames and passwords set by the test; channels exist until deleted."""

    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}
        self.deleted: set[str] = set()

    def add(self, username: str, password: str, arn: str = ARN, expires: float = T0 + 300) -> None:
        self.grants[username] = Grant(password, arn, expires)

    def grant(self, username: str) -> Grant | None:
        grant = self.grants.get(username)
        return grant if grant is not None and grant.channel_arn not in self.deleted else None

    def channel_exists(self, channel_arn: str) -> bool:
        return channel_arn not in self.deleted


@pytest.fixture
def authority() -> FakeAuthority:
    authority = FakeAuthority()
    authority.add("alice", "secret")
    authority.add("bob", "hunter2")
    return authority


@pytest.fixture
def core(authority) -> TurnCore:
    return TurnCore(authority)


def request(core: TurnCore, method: Method, attributes: dict[str, Any] | None = None, *, username: str | None = "alice",
            password: str = "secret", now: float = T0, nonce: bytes | None = None, extra: list[tuple[int, bytes]] = (),
            transaction_id: bytes | None = None) -> bytes:
    """A request as a TURN client signs it (long-term credentials, a nonce the core issued)."""
    message = Message(method, Class.REQUEST, transaction_id, dict(attributes or {}))
    if username is None:
        return codec.encode(message, None, extra)
    message.attributes.update(USERNAME=username, REALM=REALM, NONCE=nonce or core.nonces.issue(now))
    return codec.encode(message, long_term_key(username, REALM, password), extra)


def answer(outputs: list) -> Message:
    (only,) = [o for o in outputs if isinstance(o, Send)]
    message = codec.parse(only.data)
    assert message is not None
    return message


def allocate(core: TurnCore, client: Client = ALICE, now: float = T0, relayed=RELAYED, **kw: Any) -> tuple[int, Message]:
    """Allocate for ``client``; the allocation id and the success response."""
    attributes = {"REQUESTED-TRANSPORT": UDP, **kw.pop("attributes", {})}
    outputs = core.receive(client, request(core, Method.ALLOCATE, attributes, now=now, **kw), now)
    (opened,) = [o for o in outputs if isinstance(o, OpenRelay)]
    reply = answer(core.relay_opened(opened.allocation, relayed, now))
    assert reply.message_class == Class.RESPONSE, reply
    return opened.allocation, reply


def key(username: str = "alice", password: str = "secret") -> bytes:
    return long_term_key(username, REALM, password)


# ------------------------------------------------------------------ STUN Binding
def test_binding_answers_with_the_mapped_address(core):
    for client in (ALICE, Client("udp", ("::1", 5000)), Client("tcp", ("10.0.0.2", 6000))):
        reply = answer(core.receive(client, bytes(Message(Method.BINDING, Class.REQUEST)), T0))
        assert reply.message_class == Class.RESPONSE
        assert reply.attributes["XOR-MAPPED-ADDRESS"] == client.address
        assert reply.attributes["SOFTWARE"] == "kvsmock" and "FINGERPRINT" in reply.attributes


def test_what_is_not_a_request_for_the_server_is_dropped(core):
    binding = bytes(Message(Method.BINDING, Class.REQUEST))
    for data in (
        b"",
        b"\x80" + b"\x00" * 19,  # RTP-ish first bits
        binding[:19],  # truncated header
        binding + b"abcd",  # length beyond the header's
        binding[:4] + b"\x00\x00\x00\x00" + binding[8:],  # no magic cookie
        bytes(Message(Method.BINDING, Class.RESPONSE)),
        bytes(Message(Method.DATA, Class.INDICATION)),  # a server receives no Data indication
        struct.pack("!HHI12s", 0x0FFF, 0, stun.COOKIE, b"x" * 12),  # an unknown method
        b"\x40\x00\x00\x04ab",  # ChannelData cut short, and no allocation anyway
    ):
        assert core.receive(ALICE, data, T0) == []


def test_other_requests_are_refused(core):
    reply = answer(core.receive(ALICE, bytes(Message(Method.SHARED_SECRET, Class.REQUEST)), T0))
    assert reply.error_code == 400


# --------------------------------------------------------------- authentication
def test_allocate_is_challenged_then_granted_and_signed(core):
    unsigned = request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, username=None)
    challenge = answer(core.receive(ALICE, unsigned, T0))
    assert challenge.error_code == 401
    assert challenge.attributes["REALM"] == REALM and core.nonces.valid(challenge.attributes["NONCE"], T0)
    assert "MESSAGE-INTEGRITY" not in challenge.attributes  # the client may not have the key yet

    signed = request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP, "LIFETIME": 600},
                     nonce=challenge.attributes["NONCE"], transaction_id=b"A" * 12)
    (opened,) = core.receive(ALICE, signed, T0)
    assert opened == OpenRelay(opened.allocation, 4, even_port=False, dont_fragment=False)
    reply = answer(core.relay_opened(opened.allocation, RELAYED, T0))
    assert reply.message_class == Class.RESPONSE and reply.transaction_id == b"A" * 12
    assert reply.attributes["XOR-RELAYED-ADDRESS"] == RELAYED
    assert reply.attributes["XOR-MAPPED-ADDRESS"] == ALICE.address
    assert reply.attributes["LIFETIME"] == 600
    assert reply.check_message_integrity(key())

    # A retransmission gets the same answer; another Allocate on the same 5-tuple is a mismatch.
    again = answer(core.receive(ALICE, signed, T0 + 1))
    assert again.attributes["XOR-RELAYED-ADDRESS"] == RELAYED and again.transaction_id == b"A" * 12
    other = answer(core.receive(ALICE, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}), T0 + 1))
    assert other.error_code == 437 and other.check_message_integrity(key())


def test_bad_credentials_get_401_and_stale_nonces_438(core, authority):
    cases = {
        "wrong password": request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, password="nope"),
        "unknown username": request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, username="mallory"),
        "another user's password": request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, username="bob"),
    }
    for what, data in cases.items():
        reply = answer(core.receive(ALICE, data, T0))
        assert reply.error_code == 401, what
        assert "REALM" in reply.attributes and "NONCE" in reply.attributes, what
    # An expired username may no longer allocate: 401 as well.
    authority.add("late", "pw", expires=T0 - 1)
    reply = answer(core.receive(ALICE, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, username="late",
                                               password="pw"), T0))
    assert reply.error_code == 401
    # A nonce past its lifetime, or one this server never issued: 438 with a fresh one.
    old = core.nonces.issue(T0)
    stale = request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, nonce=old)
    later = T0 + core.nonces.lifetime + 1
    reply = answer(core.receive(ALICE, stale, later))
    assert reply.error_code == 438 and core.nonces.valid(reply.attributes["NONCE"], later)
    forged = request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, nonce=b"ffffffff.0000")
    assert answer(core.receive(ALICE, forged, T0)).error_code == 438
    # Signed but without REALM / NONCE: 400.
    message = Message(Method.ALLOCATE, Class.REQUEST, attributes={"REQUESTED-TRANSPORT": UDP, "USERNAME": "alice"})
    assert answer(core.receive(ALICE, codec.encode(message, key()), T0)).error_code == 400
    assert core.allocations == []


# ----------------------------------------------------------------- Allocate rules
def test_allocate_refusals(core):
    def code(attributes, extra=()):
        return answer(core.receive(ALICE, request(core, Method.ALLOCATE, attributes, extra=extra), T0)).error_code

    assert code({}) == 400  # no REQUESTED-TRANSPORT
    assert code({"REQUESTED-TRANSPORT": 6 << 24}) == 442  # TCP relaying (RFC 6062) is not offered
    ipv6 = [(codec.ATTR_REQUESTED_ADDRESS_FAMILY, b"\x02\x00\x00\x00")]
    assert code({"REQUESTED-TRANSPORT": UDP}, ipv6) == 440
    # RESERVATION-TOKEN (0x0022) is not understood: 420, listing it.
    (sent_back,) = core.receive(ALICE, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP},
                                               extra=[(0x0022, b"12345678")]), T0)
    reply = codec.parse(sent_back.data)
    assert reply.error_code == 420 and reply.check_message_integrity(key())
    assert (codec.ATTR_UNKNOWN_ATTRIBUTES, b"\x00\x22") in codec.raw_attributes(sent_back.data)
    assert core.allocations == []


def test_even_port_and_dont_fragment_reach_the_transport(core):
    extra = [(codec.ATTR_EVEN_PORT, b"\x00\x00\x00\x00"), (codec.ATTR_DONT_FRAGMENT, b"")]
    (opened,) = core.receive(ALICE, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}, extra=extra), T0)
    assert opened.even_port and opened.dont_fragment


def test_relay_that_cannot_open_gives_508(core):
    (opened,) = core.receive(ALICE, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}), T0)
    assert answer(core.relay_failed(opened.allocation, T0)).error_code == 508
    assert core.allocations == []


def test_allocation_quota_per_channel(core):
    for n in range(MAX_ALLOCATIONS_PER_CHANNEL):
        allocate(core, Client("udp", ("10.0.1.1", 1000 + n)), relayed=("127.0.0.1", 40000 + n))
    extra_client = Client("udp", ("10.0.1.1", 999))
    reply = answer(core.receive(extra_client, request(core, Method.ALLOCATE, {"REQUESTED-TRANSPORT": UDP}), T0))
    assert reply.error_code == 486


# ----------------------------------------------------------------- lifetimes
def test_lifetimes_refresh_and_delete(core):
    assert allocate(core, attributes={"LIFETIME": 30})[1].attributes["LIFETIME"] == 600  # at least the default
    core.close(T0)
    assert allocate(core, attributes={"LIFETIME": 99999})[1].attributes["LIFETIME"] == 3600  # at most the maximum
    refresh = answer(core.receive(ALICE, request(core, Method.REFRESH, {"LIFETIME": 1200}), T0 + 10))
    assert refresh.attributes["LIFETIME"] == 1200 and refresh.check_message_integrity(key())
    assert core.allocations[0].expires == T0 + 10 + 1200

    outputs = core.receive(ALICE, request(core, Method.REFRESH, {"LIFETIME": 0}), T0 + 70)
    (freed,) = [o for o in outputs if isinstance(o, Freed)]
    assert (freed.reason, freed.started, freed.ended, freed.channel_arn) == ("deleted", T0, T0 + 70, ARN)
    assert outputs.index(freed) == 0  # freed (and billed) before the answer goes out
    assert answer(outputs).attributes["LIFETIME"] == 0
    assert answer(core.receive(ALICE, request(core, Method.REFRESH, {"LIFETIME": 600}), T0 + 71)).error_code == 437


def test_allocations_expire_and_are_billed_to_their_lifetime(core):
    allocate(core)
    assert core.expire(T0 + 599) == []
    (freed,) = core.expire(T0 + 700)  # noticed late: billed until it expired
    assert (freed.reason, freed.ended) == ("expired", T0 + 600)
    assert core.allocations == []


def test_refresh_with_other_credentials_is_refused(core):
    allocate(core)
    reply = answer(core.receive(ALICE, request(core, Method.REFRESH, {}, username="bob", password="hunter2"), T0))
    assert reply.error_code == 441


def test_deleted_channel_frees_its_allocations(core, authority):
    # Noticed at the client's next request: freed, and the username no longer authenticates.
    allocate(core)
    authority.deleted.add(ARN)
    outputs = core.receive(ALICE, request(core, Method.REFRESH, {}, username="alice"), T0 + 5)
    (freed,) = [o for o in outputs if isinstance(o, Freed)]
    assert (freed.reason, freed.ended) == ("channel deleted", T0 + 5)
    assert answer(outputs).error_code == 401
    assert core.allocations == []
    # Or by the server's sweep, for clients that stay silent.
    authority.deleted.clear()
    authority.add("other", "pw", arn=ARN.replace("/ch/", "/other/"))
    allocate(core)
    allocate(core, Client("udp", ("10.0.0.5", 1)), username="other", password="pw")
    authority.deleted.add(ARN)
    (freed,) = core.check_channels(T0 + 10)
    assert (freed.channel_arn, freed.reason) == (ARN, "channel deleted")
    assert [a.username for a in core.allocations] == ["other"]


def test_tcp_connection_closing_and_server_stopping_free_allocations(core):
    tcp = Client("tcp", ("10.0.0.1", 5000))  # the same address as ALICE, another transport: another client
    allocate(core, tcp)
    allocate(core, ALICE, relayed=("127.0.0.1", 50001))
    (freed,) = core.client_gone(tcp, T0 + 30)
    assert freed.reason == "connection closed"
    assert [f.reason for f in core.close(T0 + 40)] == ["server stopped"]
    assert core.allocations == []


# ------------------------------------------------------- permissions and data
def data_indication(data: bytes, peer=PEER) -> bytes:
    return bytes(Message(Method.SEND, Class.INDICATION, attributes={"XOR-PEER-ADDRESS": peer, "DATA": data}))


def test_permissions_gate_both_directions(core):
    allocation_id, _ = allocate(core)
    assert core.receive(ALICE, data_indication(b"hi"), T0) == []  # no permission yet
    assert core.from_peer(allocation_id, PEER, b"yo", T0) == []
    other = ("10.0.0.10", 1)
    message = Message(Method.CREATE_PERMISSION, Class.REQUEST)
    data = request(core, Method.CREATE_PERMISSION, extra=[(codec.ATTR_XOR_PEER_ADDRESS,
                                                            stun.pack_xor_address(p, message.transaction_id))
                                                           for p in (PEER, other)],
                   transaction_id=message.transaction_id)
    reply = answer(core.receive(ALICE, data, T0))
    assert reply.message_class == Class.RESPONSE and reply.check_message_integrity(key())
    assert sorted(core.allocations[0].permissions) == sorted([PEER[0], other[0]])  # both peers of the request

    assert core.receive(ALICE, data_indication(b"hi"), T0 + 1) == [Relay(allocation_id, PEER, b"hi")]
    indication = answer(core.from_peer(allocation_id, (PEER[0], 7001), b"yo", T0 + 1))  # any port of that IP
    assert (indication.message_method, indication.message_class) == (Method.DATA, Class.INDICATION)
    assert indication.attributes["XOR-PEER-ADDRESS"] == (PEER[0], 7001) and indication.attributes["DATA"] == b"yo"
    # Permissions last 5 minutes.
    assert core.receive(ALICE, data_indication(b"hi"), T0 + 300) == []
    assert core.from_peer(allocation_id, PEER, b"yo", T0 + 300) == []


def test_create_permission_needs_a_peer_of_the_relay_family(core):
    allocate(core)
    assert answer(core.receive(ALICE, request(core, Method.CREATE_PERMISSION), T0)).error_code == 400
    v6 = request(core, Method.CREATE_PERMISSION, {"XOR-PEER-ADDRESS": ("::1", 9)})
    assert answer(core.receive(ALICE, v6, T0)).error_code == 443


def test_channel_bind_and_channel_data(core):
    allocation_id, _ = allocate(core)

    def bind(number, peer=PEER, now=T0):
        return answer(core.receive(ALICE, request(core, Method.CHANNEL_BIND, {"CHANNEL-NUMBER": number,
                                                                             "XOR-PEER-ADDRESS": peer}, now=now), now))

    assert bind(0x3FFF).error_code == 400  # out of range
    assert bind(0x5000).error_code == 400
    assert bind(0x4000).message_class == Class.RESPONSE
    assert core.allocations[0].permits(PEER[0], T0)  # a binding installs the permission too
    assert bind(0x4000).message_class == Class.RESPONSE  # refreshing the same binding
    assert bind(0x4001).error_code == 400  # the peer is bound to 0x4000
    assert bind(0x4000, ("10.0.0.11", 1)).error_code == 400  # 0x4000 is bound to PEER

    # ChannelData both ways (padding after the payload is ignored, as over UDP it may be sent).
    assert core.receive(ALICE, codec.channel_data(0x4000, b"abc") + b"\x00", T0 + 1) == [Relay(allocation_id, PEER, b"abc")]
    assert core.receive(ALICE, codec.channel_data(0x4001, b"abc"), T0 + 1) == []  # unbound
    (to_client,) = core.from_peer(allocation_id, PEER, b"xyz", T0 + 1)
    assert to_client == Send(ALICE, codec.channel_data(0x4000, b"xyz"))

    # The binding lasts 10 minutes (the permission is refreshed here so only the binding ends).
    core.receive(ALICE, request(core, Method.CREATE_PERMISSION, {"XOR-PEER-ADDRESS": PEER}, now=T0 + 500), T0 + 500)
    core.receive(ALICE, request(core, Method.REFRESH, {"LIFETIME": 3600}, now=T0 + 500), T0 + 500)
    ended = T0 + CHANNEL_LIFETIME
    assert core.receive(ALICE, codec.channel_data(0x4000, b"abc"), ended) == []
    indication = answer(core.from_peer(allocation_id, PEER, b"xyz", ended))
    assert indication.message_method == Method.DATA  # unbound: back to Data indications
    # For 5 minutes more neither the number nor the peer may be bound to another.
    assert bind(0x4000, ("10.0.0.11", 1), now=ended + 10).error_code == 400
    assert bind(0x4000, PEER, now=ended + 10).message_class == Class.RESPONSE  # the same pair is fine
    later = ended + 10 + CHANNEL_LIFETIME + 300
    core.receive(ALICE, request(core, Method.REFRESH, {"LIFETIME": 3600}, now=later - 100), later - 100)
    assert bind(0x4000, ("10.0.0.11", 1), now=later).message_class == Class.RESPONSE


def test_requests_on_no_allocation_are_mismatches(core):
    for method in (Method.REFRESH, Method.CREATE_PERMISSION, Method.CHANNEL_BIND):
        assert answer(core.receive(ALICE, request(core, method, {}), T0)).error_code == 437
    assert core.receive(ALICE, data_indication(b"x"), T0) == []


# ----------------------------------------------------------------------- codec
def test_stream_framer_cuts_messages_and_skips_channel_data_padding():
    stun_message = bytes(Message(Method.BINDING, Class.REQUEST))
    stream = stun_message + codec.padded(codec.channel_data(0x4000, b"abcde")) + codec.channel_data(0x4001, b"wxyz")
    framer = codec.StreamFramer()
    got = []
    for i in range(0, len(stream), 3):  # in small pieces, as TCP may deliver them
        got += framer.feed(stream[i:i + 3])
    assert got == [stun_message, codec.channel_data(0x4000, b"abcde"), codec.channel_data(0x4001, b"wxyz")]
    with pytest.raises(codec.FramingError):
        codec.StreamFramer().feed(b"\x80\x00\x00\x00")


def test_first_bytes_that_open_a_turn_stream():
    assert codec.opens_turn_stream(b"\x00") and codec.opens_turn_stream(b"\x01")
    assert not any(codec.opens_turn_stream(b) for b in (b"", b"G", b"\x16", b"\x40"))


def test_encode_signs_with_extra_attributes():
    message = Message(Method.ALLOCATE, Class.ERROR, attributes={"ERROR-CODE": (420, "Unknown Attribute")})
    data = codec.encode(message, b"k" * 16, [codec.unknown_attributes([0x0022, 0x0030])])
    parsed = codec.parse(data)
    assert parsed is not None and parsed.check_message_integrity(b"k" * 16) and "FINGERPRINT" in parsed.attributes
    assert (codec.ATTR_UNKNOWN_ATTRIBUTES, b"\x00\x22\x00\x30") in codec.raw_attributes(data)


def test_nonces():
    nonces = Nonces(lifetime=10)
    nonce = nonces.issue(T0)
    assert nonces.valid(nonce, T0 + 9) and not nonces.valid(nonce, T0 + 10)
    assert not Nonces().valid(nonce, T0)  # another server's
    assert not nonces.valid(b"\xff", T0) and not nonces.valid(b"zz.zz", T0)


def test_error_code_helper(core):
    assert error_code(request(core, Method.ALLOCATE)) is None  # a request
    assert error_code(bytes(Message(Method.ALLOCATE, Class.ERROR, attributes={"ERROR-CODE": (401, "x")}))) == 401


# ------------------------------------------------------------------ credentials
def test_ice_credentials_verify(monkeypatch):
    from kvsmock import clock

    monkeypatch.setattr(clock, "now", lambda: T0)
    ice = IceCredentials()
    (creds,) = ice.issue(ARN, count=1)
    username, password = creds["Username"], creds["Password"]
    assert parse_username(username) == (int(T0) + 300, ARN)
    assert ice.password(username) == password
    assert ice.verify(username, password)
    wrong = password[:-2] + ("A=" if not password.endswith("A=") else "B=")  # one character off
    assert not ice.verify(username, wrong)
    assert not IceCredentials().verify(username, password)  # another backend's secret
    assert not ice.verify(username, password, now=T0 + 300)  # expired
    for bad in ("", "123", "abc:djE6eA==", "123:!!!", f"123:{base64.b64encode(b'v2:x').decode()}"):
        assert parse_username(bad) is None and not ice.verify(bad, password)


def test_channel_usage_bills_turn_minutes_and_active_months():
    usage = ChannelUsage("ch", ARN)
    assert usage.turn_allocation(0) == 0
    assert usage.turn_allocation(60) == 1
    assert usage.turn_allocation(61) == 2  # 1-minute increments, rounded up
    usage.connected(T0)
    usage.connected(T0 + 60)  # the same month
    usage.connected(T0 + 40 * 86400)  # the next one
    report = usage.report()
    assert report["TurnMinutes"] == 3 and report["ActiveSignalingChannelMonths"] == 2
