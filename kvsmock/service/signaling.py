"""WebRTC signaling as the service runs it, without the network.

The state of each signaling channel's live side: who is connected (one
master, up to ten viewers), which messages wait for a recipient that is not
connected yet (kept up to the channel's MessageTtlSeconds), the storage
session's peer (JoinStorageSession) and Alexa offers waiting for the
master's answer (SendAlexaOfferToMaster).

A transport (the WebSocket server in :mod:`kvsmock.signaling`) registers each
connection with :meth:`SignalingHub.connect`, giving two thread-safe
callbacks: ``deliver(event)`` sends one server event (a dict in the
service's JSON shape) to that client, ``close(code, reason)`` ends the
connection. It hands every client message it reads to
:meth:`SignalingHub.receive`, which routes it and returns the
``STATUS_RESPONSE`` event to send back when the message failed and carried
a correlation id. Nothing here opens a socket, so every rule can be tested
by calling methods.

Facts followed (spec §6): masters reach any viewer by ``recipientClientId``
(required from the master); viewers reach only the master (their
``recipientClientId`` is ignored); a new master connection replaces the old
one, as does a new viewer connection with the same ClientId; an undelivered
SDP offer or answer from the same sender is overwritten by a newer one;
undelivered messages are discarded after MessageTtlSeconds (the TTL in force
when the message was sent); messages from the storage session carry no
``senderClientId``. Choices where the service is not documented are marked
"kvsmock's choice" below.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import clock
from ..errors import (
    ClientLimitExceededException,
    InvalidArgumentException,
    KvsError,
    ResourceNotFoundException,
)
from .channels import SignalingChannel
from .rate_limit import RateLimiter, real_seconds

MASTER, VIEWER = "MASTER", "VIEWER"
#: Client message actions.
ACTIONS = ("SDP_OFFER", "SDP_ANSWER", "ICE_CANDIDATE")
#: messagePayload limit ("10K characters" in the WebSocket API reference; the REST model says 10,000).
MAX_PAYLOAD_CHARS = 10_000
#: Viewers connected to one channel at once (a soft quota of the service).
MAX_VIEWERS_PER_CHANNEL = 10
#: Messages per second per WebSocket connection, by action.
MESSAGE_RATE_LIMITS = {"SDP_OFFER": 5, "SDP_ANSWER": 5, "ICE_CANDIDATE": 20}
#: REST calls per second per channel.
ICE_CONFIG_TPS = 5
ALEXA_OFFER_TPS = 5
STORAGE_JOIN_TPS = 2
#: GetIceServerConfig credential lifetime (seconds).
ICE_CREDENTIAL_TTL = 300
#: Undelivered messages kept per recipient (kvsmock's bound; the service documents none).
MAX_QUEUED_PER_RECIPIENT = 256

#: Close codes the transport uses.
CLOSE_REPLACED = 1000
CLOSE_GOING_AWAY = 1001

_ID = re.compile(r"[a-zA-Z0-9_.-]{1,256}")
_CHANNEL_ARN = re.compile(r"arn:aws[a-zA-Z-]*:kinesisvideo:[a-z0-9-]+:[0-9]+:[a-z]+/[a-zA-Z0-9_.-]+/[0-9]+")


# ---------------------------------------------------------------- validation
def check_channel_arn(arn: Any) -> str:
    """The X-Amz-ChannelARN of a WebSocket connect, checked as the service does."""
    if not isinstance(arn, str) or not arn:
        raise InvalidArgumentException("X-Amz-ChannelARN is required.")
    if len(arn) > 1024 or not _CHANNEL_ARN.fullmatch(arn):
        raise InvalidArgumentException(f"X-Amz-ChannelARN '{arn}' is not a valid signaling channel ARN.")
    return arn


def check_client_id(client_id: Any, name: str = "X-Amz-ClientId") -> str:
    """A viewer's ClientId: 1-256 of ``[a-zA-Z0-9_.-]``, not starting with ``AWS_``."""
    if not isinstance(client_id, str) or not client_id:
        raise InvalidArgumentException(f"{name} is required to connect as a viewer.")
    if not _ID.fullmatch(client_id):
        raise InvalidArgumentException(
            f"{name} '{client_id}' must be 1 to 256 characters of letters, digits, '_', '.' and '-'."
        )
    if client_id.upper().startswith("AWS_"):
        raise InvalidArgumentException(f"{name} must not start with 'AWS_'.")
    return client_id


def status_response(correlation_id: str, err: KvsError) -> dict[str, Any]:
    """The STATUS_RESPONSE event for a failed client message."""
    return {
        "messageType": "STATUS_RESPONSE",
        "statusResponse": {
            "correlationId": correlation_id,
            "errorType": err.error_type,
            "statusCode": str(err.status),
            "description": err.message[:1024],
            # Seen in the service's own example of a storage-session rejection.
            "success": False,
        },
    }


GO_AWAY: dict[str, Any] = {"messageType": "GO_AWAY"}


# -------------------------------------------------------------------- state
@dataclass(eq=False)
class Peer:
    """One connected client as the service sees it."""

    channel_arn: str
    role: str
    client_id: str | None
    deliver: Callable[[dict[str, Any]], None]
    close: Callable[[int, str], None]
    hub: "SignalingHub"
    connected_at: float = field(default_factory=clock.now)
    active: bool = True
    limiters: dict[str, RateLimiter] = field(
        default_factory=lambda: {a: RateLimiter(n) for a, n in MESSAGE_RATE_LIMITS.items()}
    )

    @property
    def key(self) -> str:
        return MASTER if self.role == MASTER else f"{VIEWER}:{self.client_id}"


@dataclass
class QueuedEvent:
    """A message held for a recipient that is not connected."""

    event: dict[str, Any]
    sender: str
    action: str
    expires_at: float


@dataclass
class StorageSession:
    """The storage session of a channel (JoinStorageSession / JoinStorageSessionAsViewer).

    kvsmock has no real storage peer: it sends the SDP offer the service
    would send, checks the answer's codecs as the service does, and keeps
    what it got here, where a test can look. Media never flows.
    """

    stream_arn: str
    master_joins: int = 0
    master_answer: str | None = None
    #: ClientId -> the viewer's SDP answer (None until it answers).
    viewers: dict[str, str | None] = field(default_factory=dict)
    ice_candidates_received: int = 0


class AlexaOffer:
    """A SendAlexaOfferToMaster call waiting for the master's SDP answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.answer: str | None = None


@dataclass
class ChannelSignaling:
    """The live signaling state of one channel."""

    arn: str
    master: Peer | None = None
    viewers: dict[str, Peer] = field(default_factory=dict)
    queues: dict[str, list[QueuedEvent]] = field(default_factory=dict)
    storage: StorageSession | None = None
    #: Viewers whose last offer came from the storage session: their answers and candidates go there.
    storage_viewers: set[str] = field(default_factory=set)
    alexa: dict[str, AlexaOffer] = field(default_factory=dict)
    #: Usage: messages relayed by action, connections, queued/expired/replaced counts.
    counts: Counter = field(default_factory=Counter)


#: Called for every metered signaling event: ``hook(channel_arn, what, nbytes)``.
#: ``what`` is a client action (``SDP_OFFER`` ...), ``CONNECT``, ``GET_ICE_SERVER_CONFIG``,
#: ``SEND_ALEXA_OFFER`` or ``JOIN_STORAGE_SESSION``. The moto glue plugs the usage
#: meter in here (messages are counted on the channel's ``usage``).
UsageHook = Callable[[str, str, int], None]
usage_hooks: list[UsageHook] = []


class SignalingHub:
    """Signaling state of every channel of one account and region."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.channels: dict[str, ChannelSignaling] = {}
        self._rest_limits: dict[tuple[str, str], RateLimiter] = {}
        self._ice_secret = secrets.token_bytes(32)

    # ------------------------------------------------------------- helpers
    def state(self, channel_arn: str) -> ChannelSignaling:
        with self.lock:
            state = self.channels.get(channel_arn)
            if state is None:
                state = self.channels[channel_arn] = ChannelSignaling(channel_arn)
            return state

    def _meter(self, state: ChannelSignaling, what: str, nbytes: int = 0) -> None:
        state.counts[what] += 1
        for hook in list(usage_hooks):
            try:
                hook(state.arn, what, nbytes)
            except Exception:  # a broken meter must not break signaling
                pass

    def _rest_rate(self, operation: str, channel_arn: str, limit: int, what: str) -> None:
        with self.lock:
            limiter = self._rest_limits.get((operation, channel_arn))
            if limiter is None:
                limiter = self._rest_limits[(operation, channel_arn)] = RateLimiter(limit)
            if not limiter.allow():
                raise ClientLimitExceededException(
                    f"{what} is limited to {limit} calls per second per signaling channel."
                )

    def _post(self, state: ChannelSignaling, recipient: str, event: dict[str, Any], sender: str, action: str,
              ttl: int) -> None:
        """Deliver an event now, or hold it for the recipient up to ``ttl`` seconds."""
        peer = state.master if recipient == MASTER else state.viewers.get(recipient.split(":", 1)[1])
        if peer is not None:
            peer.deliver(event)
            state.counts["delivered"] += 1
            return
        now = clock.now()
        queue = [q for q in state.queues.get(recipient, []) if q.expires_at > now]
        if action in ("SDP_OFFER", "SDP_ANSWER"):
            before = len(queue)
            queue = [q for q in queue if not (q.sender == sender and q.action == action)]
            state.counts["replaced"] += before - len(queue)
        queue.append(QueuedEvent(event, sender, action, now + ttl))
        del queue[:-MAX_QUEUED_PER_RECIPIENT]
        state.queues[recipient] = queue
        state.counts["queued"] += 1

    def _flush(self, state: ChannelSignaling, peer: Peer) -> None:
        queue = state.queues.pop(peer.key, [])
        now = clock.now()
        for item in queue:
            if item.expires_at > now:
                peer.deliver(item.event)
                state.counts["delivered"] += 1
            else:
                state.counts["expired"] += 1

    def pending(self, channel_arn: str, recipient: str) -> list[dict[str, Any]]:
        """The events held for ``MASTER`` or ``VIEWER:<ClientId>`` that have not expired."""
        with self.lock:
            now = clock.now()
            return [q.event for q in self.state(channel_arn).queues.get(recipient, []) if q.expires_at > now]

    # -------------------------------------------------------- connections
    def check_connect(self, channel: SignalingChannel, role: str, client_id: str | None) -> None:
        """Raise the error a connect would get (the transport calls this during the handshake)."""
        channel.require_active()
        if role == VIEWER:
            check_client_id(client_id)
            with self.lock:
                viewers = self.state(channel.arn).viewers
                if client_id not in viewers and len(viewers) >= MAX_VIEWERS_PER_CHANNEL:
                    raise ClientLimitExceededException(
                        f"The channel already has the maximum of {MAX_VIEWERS_PER_CHANNEL} connected viewers."
                    )

    def connect(
        self,
        channel: SignalingChannel,
        role: str,
        client_id: str | None,
        deliver: Callable[[dict[str, Any]], None],
        close: Callable[[int, str], None],
    ) -> Peer:
        """Register a connection; the one it replaces (same role and ClientId) is closed."""
        if role not in (MASTER, VIEWER):
            raise InvalidArgumentException(f"Unknown role {role}.")
        with self.lock:
            self.check_connect(channel, role, client_id if role == VIEWER else None)
            state = self.state(channel.arn)
            peer = Peer(channel.arn, role, client_id if role == VIEWER else None, deliver, close, self)
            old = state.master if role == MASTER else state.viewers.get(client_id or "")
            if role == MASTER:
                state.master = peer
            else:
                state.viewers[peer.client_id or ""] = peer
            if old is not None:
                # kvsmock's choice: the service says the newest connection "takes precedence";
                # kvsmock closes the older socket rather than leave it open and deaf.
                old.active = False
                old.close(CLOSE_REPLACED, f"Replaced by a newer {role.lower()} connection.")
            self._meter(state, "CONNECT")
            self._flush(state, peer)
            return peer

    def disconnect(self, peer: Peer) -> None:
        with self.lock:
            peer.active = False
            state = self.channels.get(peer.channel_arn)
            if state is None:
                return
            if peer.role == MASTER and state.master is peer:
                state.master = None
            elif peer.role == VIEWER and state.viewers.get(peer.client_id or "") is peer:
                del state.viewers[peer.client_id or ""]

    def connected(self, channel_arn: str) -> dict[str, Any]:
        """Who is connected: ``{"master": bool, "viewers": [ClientId, ...]}``."""
        with self.lock:
            state = self.state(channel_arn)
            return {"master": state.master is not None, "viewers": sorted(state.viewers)}

    # ----------------------------------------------------------- messages
    def receive(self, peer: Peer, channel: SignalingChannel, message: dict[str, Any]) -> dict[str, Any] | None:
        """Handle one client message; returns the STATUS_RESPONSE to send back, if any.

        Keys are matched without regard to case (the JS SDK sends camelCase,
        the C SDK PascalCase). A failure is answered only when the message
        carried a ``correlationId``; otherwise it is dropped, as the service does.
        """
        msg = {str(k).lower(): v for k, v in message.items()}
        correlation = msg.get("correlationid")
        try:
            self._receive(peer, channel, msg, correlation)
        except KvsError as err:
            if correlation is None or correlation == "":
                return None
            return status_response(str(correlation), err)
        return None

    def _receive(self, peer: Peer, channel: SignalingChannel, msg: dict[str, Any], correlation: Any) -> None:
        if correlation is not None and not (isinstance(correlation, str) and _ID.fullmatch(correlation)):
            raise InvalidArgumentException(
                "correlationId must be 1 to 256 characters of letters, digits, '_', '.' and '-'."
            )
        action = msg.get("action")
        if action not in ACTIONS:
            raise InvalidArgumentException(
                f"action must be one of {', '.join(ACTIONS)}; got {action!r}."
            )
        payload = msg.get("messagepayload")
        if not isinstance(payload, str) or not payload:
            raise InvalidArgumentException("messagePayload is required.")
        if len(payload) > MAX_PAYLOAD_CHARS:
            raise InvalidArgumentException(
                f"messagePayload is {len(payload)} characters; the limit is {MAX_PAYLOAD_CHARS}."
            )
        recipient = msg.get("recipientclientid")
        if peer.role == MASTER and recipient is not None and recipient != "":
            if not isinstance(recipient, str) or not _ID.fullmatch(recipient):
                raise InvalidArgumentException(
                    "recipientClientId must be 1 to 256 characters of letters, digits, '_', '.' and '-'."
                )
        if not peer.limiters[action].allow():
            raise ClientLimitExceededException(
                f"{action} messages are limited to {MESSAGE_RATE_LIMITS[action]} per second per connection."
            )
        with self.lock:
            if not peer.active:
                return  # a replaced connection: nobody listens to it any more
            state = self.state(channel.arn)
            self._meter(state, action, len(payload))
            ttl = channel.message_ttl_seconds
            if peer.role == MASTER:
                self._from_master(state, action, payload, recipient or None, ttl)
            else:
                self._from_viewer(state, peer, action, payload, ttl)

    def _from_master(self, state: ChannelSignaling, action: str, payload: str, recipient: str | None,
                     ttl: int) -> None:
        if recipient is None:
            if state.storage is not None and state.storage.master_joins and action != "SDP_OFFER":
                self._to_storage_from_master(state.storage, action, payload)
                return
            raise InvalidArgumentException("recipientClientId is required when the master sends a message.")
        alexa = state.alexa.get(recipient)
        if alexa is not None and action != "SDP_OFFER":
            if action == "SDP_ANSWER":
                alexa.answer = payload
                alexa.answered.set()
            return  # ICE candidates for an Alexa device are not relayed over this path
        if action == "SDP_OFFER":
            state.storage_viewers.discard(recipient)
        # kvsmock's choice: messages from the master carry no senderClientId (the service's
        # field is optional and its value for the master is not documented).
        event = {"messageType": action, "messagePayload": payload}
        self._post(state, f"{VIEWER}:{recipient}", event, MASTER, action, ttl)

    def _from_viewer(self, state: ChannelSignaling, peer: Peer, action: str, payload: str, ttl: int) -> None:
        client_id = peer.client_id or ""
        if client_id in state.storage_viewers and action != "SDP_OFFER" and state.storage is not None:
            self._to_storage_from_viewer(state.storage, client_id, action, payload)
            return
        if action == "SDP_OFFER":
            state.storage_viewers.discard(client_id)
        event = {"senderClientId": client_id, "messageType": action, "messagePayload": payload}
        self._post(state, MASTER, event, peer.key, action, ttl)

    # ------------------------------------------------------ storage peer
    def _to_storage_from_master(self, storage: StorageSession, action: str, payload: str) -> None:
        if action == "ICE_CANDIDATE":
            storage.ice_candidates_received += 1
            return
        sdp = sdp_of(payload)
        needed = (("H.264 video", "H264"), ("Opus audio", "opus"))
        missing = [name for name, codec in needed if not has_codec(sdp, codec)]
        if missing:
            raise InvalidArgumentException(
                "The storage session cannot accept the answer: it needs H.264 video and Opus audio "
                f"(missing {' and '.join(missing)})."
            )
        storage.master_answer = payload

    def _to_storage_from_viewer(self, storage: StorageSession, client_id: str, action: str, payload: str) -> None:
        if action == "ICE_CANDIDATE":
            storage.ice_candidates_received += 1
            return
        if not has_codec(sdp_of(payload), "opus"):
            raise InvalidArgumentException("The storage session cannot accept the answer: it needs Opus audio.")
        storage.viewers[client_id] = payload

    def join_storage_session(self, channel: SignalingChannel, stream_arn: str) -> StorageSession:
        """The master joins: the storage session sends it an SDP offer (held up to the TTL if it is away)."""
        self._rest_rate("JoinStorageSession", channel.arn, STORAGE_JOIN_TPS, "JoinStorageSession")
        with self.lock:
            state = self.state(channel.arn)
            storage = self._storage(state, stream_arn)
            storage.master_joins += 1
            storage.master_answer = None
            self._meter(state, "JOIN_STORAGE_SESSION")
            event = {"messageType": "SDP_OFFER", "messagePayload": storage_offer(for_master=True)}
            self._post(state, MASTER, event, "STORAGE", "SDP_OFFER", channel.message_ttl_seconds)
            return storage

    def join_storage_session_as_viewer(
        self, channel: SignalingChannel, stream_arn: str, client_id: str
    ) -> StorageSession:
        """A viewer joins: the storage session sends that viewer an SDP offer."""
        self._rest_rate("JoinStorageSession", channel.arn, STORAGE_JOIN_TPS, "JoinStorageSessionAsViewer")
        with self.lock:
            state = self.state(channel.arn)
            storage = self._storage(state, stream_arn)
            storage.viewers[client_id] = None
            state.storage_viewers.add(client_id)
            self._meter(state, "JOIN_STORAGE_SESSION")
            event = {"messageType": "SDP_OFFER", "messagePayload": storage_offer(for_master=False)}
            self._post(state, f"{VIEWER}:{client_id}", event, "STORAGE", "SDP_OFFER", channel.message_ttl_seconds)
            return storage

    @staticmethod
    def _storage(state: ChannelSignaling, stream_arn: str) -> StorageSession:
        if state.storage is None or state.storage.stream_arn != stream_arn:
            state.storage = StorageSession(stream_arn)
        return state.storage

    # --------------------------------------------------------------- Alexa
    def send_alexa_offer(self, channel: SignalingChannel, sender_client_id: str, payload: str,
                         timeout: float | None = None) -> str:
        """Deliver an Alexa device's offer to the master and wait for its answer (base64, as sent).

        The offer is held for the master up to the channel's MessageTtlSeconds;
        the call waits that long (on the emulator clock or the wall clock,
        whichever passes first) and then fails.
        """
        self._rest_rate("SendAlexaOfferToMaster", channel.arn, ALEXA_OFFER_TPS, "SendAlexaOfferToMaster")
        ttl = channel.message_ttl_seconds if timeout is None else timeout
        offer = AlexaOffer()
        with self.lock:
            state = self.state(channel.arn)
            state.alexa[sender_client_id] = offer
            self._meter(state, "SEND_ALEXA_OFFER", len(payload))
            event = {"senderClientId": sender_client_id, "messageType": "SDP_OFFER", "messagePayload": payload}
            self._post(state, MASTER, event, f"ALEXA:{sender_client_id}", "SDP_OFFER", channel.message_ttl_seconds)
        deadline, real_deadline = clock.now() + ttl, real_seconds() + ttl
        try:
            while not offer.answered.wait(0.05):
                if clock.now() >= deadline or real_seconds() >= real_deadline:
                    # kvsmock's choice of error: the service documents the wait, not its end.
                    raise ResourceNotFoundException(
                        f"No master answered the offer within the channel's message TTL of {int(ttl)} seconds."
                    )
        finally:
            with self.lock:
                if state.alexa.get(sender_client_id) is offer:
                    del state.alexa[sender_client_id]
        assert offer.answer is not None
        return offer.answer

    # ---------------------------------------------------------------- ICE
    def ice_credentials(self, channel: SignalingChannel, count: int = 2) -> list[dict[str, Any]]:
        """``count`` TURN credential sets as GetIceServerConfig returns them (without the URIs).

        Username is ``<expiry epoch seconds>:<base64("v1:" + ChannelARN)>`` as
        observed; the password is the TURN REST API's base64(HMAC-SHA1(secret, username)).
        """
        self._rest_rate("GetIceServerConfig", channel.arn, ICE_CONFIG_TPS, "GetIceServerConfig")
        with self.lock:
            self._meter(self.state(channel.arn), "GET_ICE_SERVER_CONFIG")
        expiry = int(clock.now()) + ICE_CREDENTIAL_TTL
        username = f"{expiry}:{base64.b64encode(f'v1:{channel.arn}'.encode()).decode()}"
        password = base64.b64encode(hmac.new(self._ice_secret, username.encode(), hashlib.sha1).digest()).decode()
        return [{"Username": username, "Password": password, "Ttl": ICE_CREDENTIAL_TTL} for _ in range(count)]


# ------------------------------------------------------------------- SDP helpers
def sdp_of(payload: str) -> str:
    """The SDP inside a messagePayload: base64 of ``{"type", "sdp"}`` JSON by SDK convention, or of bare SDP."""
    try:
        text = base64.b64decode(payload, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return ""
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict) and isinstance(parsed.get("sdp"), str):
        return parsed["sdp"]
    return text


def has_codec(sdp: str, codec: str) -> bool:
    return re.search(rf"^a=rtpmap:\d+ {re.escape(codec)}/", sdp, re.IGNORECASE | re.MULTILINE) is not None


def storage_offer(for_master: bool) -> str:
    """The storage session's SDP offer (base64 of ``{"type": "offer", "sdp": ...}``).

    A well-formed offer with Opus audio (sendrecv) and H.264 video (received
    from the master, sent to viewers), and no candidates: kvsmock does not
    run a media peer, so ICE with it never completes.
    """
    ufrag = secrets.token_hex(4)
    pwd = secrets.token_hex(12)
    fingerprint = ":".join(f"{b:02X}" for b in secrets.token_bytes(32))
    session = secrets.randbelow(2**62)
    video_direction = "recvonly" if for_master else "sendonly"
    common = (
        "c=IN IP4 0.0.0.0\r\n"
        "a=rtcp:9 IN IP4 0.0.0.0\r\n"
        f"a=ice-ufrag:{ufrag}\r\n"
        f"a=ice-pwd:{pwd}\r\n"
        "a=ice-options:trickle\r\n"
        f"a=fingerprint:sha-256 {fingerprint}\r\n"
        "a=setup:actpass\r\n"
        "a=rtcp-mux\r\n"
    )
    sdp = (
        "v=0\r\n"
        f"o=- {session} 2 IN IP4 127.0.0.1\r\n"
        "s=-\r\n"
        "t=0 0\r\n"
        "a=group:BUNDLE 0 1\r\n"
        "a=msid-semantic: WMS\r\n"
        "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
        + common
        + "a=mid:0\r\n"
        "a=sendrecv\r\n"
        "a=rtpmap:111 opus/48000/2\r\n"
        "a=fmtp:111 minptime=10;useinbandfec=1\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 102\r\n"
        + common
        + "a=mid:1\r\n"
        f"a={video_direction}\r\n"
        "a=rtpmap:102 H264/90000\r\n"
        "a=rtcp-fb:102 nack\r\n"
        "a=rtcp-fb:102 nack pli\r\n"
        "a=fmtp:102 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f\r\n"
    )
    return base64.b64encode(json.dumps({"type": "offer", "sdp": sdp}).encode()).decode()


# ------------------------------------------------------------------- per backend
_HUB_ATTR = "_kvsmock_signaling_hub"
_hub_lock = threading.Lock()


def hub_for(backend: Any) -> SignalingHub:
    """The signaling hub of one backend (account and region).

    Kept on the backend object, so moto's reset (which empties a backend's
    ``__dict__``) starts signaling afresh with the rest of the state.
    """
    hub = backend.__dict__.get(_HUB_ATTR)
    if hub is None:
        with _hub_lock:
            hub = backend.__dict__.get(_HUB_ATTR)
            if hub is None:
                hub = SignalingHub()
                backend.__dict__[_HUB_ATTR] = hub
    return hub
