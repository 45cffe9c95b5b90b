"""The signaling hub of one backend: every channel's connections, and how messages are routed."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Callable

from ... import clock
from ...errors import ClientLimitExceededException, InvalidArgumentException, KvsError
from ..channels import SignalingChannel
from ..quotas import quotas
from ..rate_limit import RateLimiter
from .alexa import ALEXA_OFFER_TPS, AlexaOffer
from .channel_state import ChannelSignaling
from .events import CLOSE_GOING_AWAY, CLOSE_REPLACED, GO_AWAY, RECONNECT_ICE_SERVER, status_response
from .ice_credentials import ICE_CONFIG_TPS, IceCredentials
from .metering import meter
from .peers import (
    CONNECTS_PER_SECOND,
    IDLE_TIMEOUT_SECONDS,
    MASTER,
    MAX_CONNECTION_SECONDS,
    MAX_VIEWERS_PER_CHANNEL,
    MESSAGE_RATE_LIMITS,
    VIEWER,
    Peer,
)
from .sdp import storage_offer
from .storage_peer import StoragePeer, StoragePeerOrder, storage_peer_factories
from .storage_session import StorageSession
from .validation import check_client_id, check_message

if TYPE_CHECKING:
    from ..streams import Stream

#: JoinStorageSession(AsViewer) calls per second per channel.
STORAGE_JOIN_TPS = 2


class SignalingHub:
    """Signaling state of every channel of one account and region."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.channels: dict[str, ChannelSignaling] = {}
        self._rest_limits: dict[tuple[str, str], RateLimiter] = {}
        self._ice = IceCredentials()

    # ------------------------------------------------------------- helpers
    def state(self, channel_arn: str) -> ChannelSignaling:
        with self.lock:
            state = self.channels.get(channel_arn)
            if state is None:
                state = self.channels[channel_arn] = ChannelSignaling(channel_arn)
            return state

    def _rest_rate(self, operation: str, channel_arn: str, limit: int, what: str) -> None:
        with self.lock:
            limiter = self._rest_limits.get((operation, channel_arn))
            if limiter is None:
                limiter = self._rest_limits[(operation, channel_arn)] = RateLimiter(limit)
            if not limiter.allow():
                raise ClientLimitExceededException(
                    f"{what} is limited to {limit} calls per second per signaling channel."
                )

    def pending(self, channel_arn: str, recipient: str) -> list[dict[str, Any]]:
        """The events held for ``MASTER`` or ``VIEWER:<ClientId>`` that have not expired."""
        with self.lock:
            return self.state(channel_arn).pending(recipient)

    # -------------------------------------------------------- connections
    def check_connect(self, channel: SignalingChannel, role: str, client_id: str | None) -> None:
        """Raise the error a connect would get (the transport calls this during the handshake, once per
        connection attempt: it also counts the attempt against the channel's connect rate)."""
        self._check_connect(channel, role, client_id)
        self._rest_rate("CONNECT", channel.arn, CONNECTS_PER_SECOND, "Connecting to a signaling channel")

    def _check_connect(self, channel: SignalingChannel, role: str, client_id: str | None) -> None:
        channel.require_active()
        if role == VIEWER:
            check_client_id(client_id)
            with self.lock:
                viewers = self.state(channel.arn).viewers
                if client_id not in viewers and len(viewers) >= MAX_VIEWERS_PER_CHANNEL and quotas.enforced:
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
            self._check_connect(channel, role, client_id if role == VIEWER else None)
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
            meter(state, "CONNECT")
            state.flush(peer)
            return peer

    def disconnect(self, peer: Peer) -> None:
        with self.lock:
            peer.active = False
            state = self.channels.get(peer.channel_arn)
            if state is None:
                return
            if peer.role == MASTER and state.master is peer:
                state.master = None
                if state.storage is not None:
                    state.storage.end_master("the master left the channel")
            elif peer.role == VIEWER and state.viewers.get(peer.client_id or "") is peer:
                del state.viewers[peer.client_id or ""]
                if state.storage is not None:
                    state.storage.end_viewer(peer.client_id or "", "the viewer left the channel")

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
        peer.last_heard = clock.now()
        msg = {str(k).lower(): v for k, v in message.items()}
        correlation = msg.get("correlationid")
        try:
            self._receive(peer, channel, msg)
        except KvsError as err:
            if correlation is None or correlation == "":
                return None
            return status_response(str(correlation), err)
        return None

    def _receive(self, peer: Peer, channel: SignalingChannel, msg: dict[str, Any]) -> None:
        checked = check_message(msg, from_master=peer.role == MASTER)
        action, payload = checked.action, checked.payload
        if not peer.limiters[action].allow():
            raise ClientLimitExceededException(
                f"{action} messages are limited to {MESSAGE_RATE_LIMITS[action]} per second per connection."
            )
        with self.lock:
            if not peer.active:
                return  # a replaced connection: nobody listens to it any more
            state = self.state(channel.arn)
            meter(state, action, len(payload))
            ttl = channel.message_ttl_seconds
            if peer.role == MASTER:
                self._from_master(state, action, payload, checked.recipient, ttl)
            else:
                self._from_viewer(state, peer, action, payload, ttl)

    def _from_master(self, state: ChannelSignaling, action: str, payload: str, recipient: str | None,
                     ttl: int) -> None:
        if recipient is None:
            if state.storage is not None and state.storage.master_joins and action != "SDP_OFFER":
                state.storage.from_master(action, payload)
                return
            raise InvalidArgumentException("recipientClientId is required when the master sends a message.")
        alexa = state.alexa.get(recipient)
        if alexa is not None and action != "SDP_OFFER":
            if action == "SDP_ANSWER":
                alexa.set_answer(payload)
            return  # ICE candidates for an Alexa device are not relayed over this path
        if action == "SDP_OFFER":
            state.storage_viewers.discard(recipient)
        # kvsmock's choice: messages from the master carry no senderClientId (the service's
        # field is optional and its value for the master is not documented).
        event = {"messageType": action, "messagePayload": payload}
        state.post(f"{VIEWER}:{recipient}", event, MASTER, action, ttl)

    def _from_viewer(self, state: ChannelSignaling, peer: Peer, action: str, payload: str, ttl: int) -> None:
        client_id = peer.client_id or ""
        if client_id in state.storage_viewers and action != "SDP_OFFER" and state.storage is not None:
            state.storage.from_viewer(client_id, action, payload)
            return
        if action == "SDP_OFFER":
            state.storage_viewers.discard(client_id)
        event = {"senderClientId": client_id, "messageType": action, "messagePayload": payload}
        state.post(MASTER, event, peer.key, action, ttl)

    # ------------------------------------------------------ storage peer
    def join_storage_session(self, channel: SignalingChannel, stream_arn: str,
                             stream: Stream | None = None) -> StorageSession:
        """The master joins: the storage session sends it an SDP offer (held up to the TTL if it is away).

        With ``stream`` (the mapped stream) and a storage peer factory
        installed (:mod:`.storage_peer`), a media peer makes the offer and
        stores the master's media in the stream; otherwise the offer is canned.
        """
        return self._join_storage(channel, stream_arn, None, "JoinStorageSession", stream)

    def join_storage_session_as_viewer(
        self, channel: SignalingChannel, stream_arn: str, client_id: str, stream: Stream | None = None
    ) -> StorageSession:
        """A viewer joins: the storage session sends that viewer an SDP offer (and, with a media peer, the master's media)."""
        return self._join_storage(channel, stream_arn, client_id, "JoinStorageSessionAsViewer", stream)

    def _join_storage(self, channel: SignalingChannel, stream_arn: str, client_id: str | None,
                      operation: str, stream: Stream | None) -> StorageSession:
        self._rest_rate("JoinStorageSession", channel.arn, STORAGE_JOIN_TPS, operation)
        peer = self._storage_peer(channel.arn, stream, client_id)
        with self.lock:
            state = self.state(channel.arn)
            if state.storage is None or state.storage.stream_arn != stream_arn:
                if state.storage is not None:
                    state.storage.close("the channel was mapped to another stream")
                state.storage = StorageSession(stream_arn)
            storage = state.storage
            if client_id is None:
                storage.master_joins += 1
                storage.master_answer = None
                storage.set_master_peer(peer)
                recipient = MASTER
            else:
                storage.viewers[client_id] = None
                storage.set_viewer_peer(client_id, peer)
                state.storage_viewers.add(client_id)
                recipient = f"{VIEWER}:{client_id}"
            meter(state, "JOIN_STORAGE_SESSION")
            offer = peer.offer if peer is not None else storage_offer(for_master=client_id is None)
            event = {"messageType": "SDP_OFFER", "messagePayload": offer}
            state.post(recipient, event, "STORAGE", "SDP_OFFER", channel.message_ttl_seconds)
            return storage

    def _storage_peer(self, channel_arn: str, stream: Stream | None, client_id: str | None) -> StoragePeer | None:
        """A media peer from the installed factory (made outside the lock: it waits for the peer's offer)."""
        factory = storage_peer_factories.current()
        if factory is None or stream is None:
            return None

        def ended(peer: StoragePeer, reason: str) -> None:
            with self.lock:
                state = self.channels.get(channel_arn)
                if state is not None and state.storage is not None:
                    state.storage.forget(peer, reason)

        return factory(StoragePeerOrder(channel_arn, stream, client_id, ended))

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
            meter(state, "SEND_ALEXA_OFFER", len(payload))
            event = {"senderClientId": sender_client_id, "messageType": "SDP_OFFER", "messagePayload": payload}
            state.post(MASTER, event, f"ALEXA:{sender_client_id}", "SDP_OFFER", channel.message_ttl_seconds)
        try:
            return offer.wait(ttl)
        finally:
            with self.lock:
                if state.alexa.get(sender_client_id) is offer:
                    del state.alexa[sender_client_id]

    # ---------------------------------------------------------------- ICE
    def ice_credentials(self, channel: SignalingChannel, count: int = 2) -> list[dict[str, Any]]:
        """``count`` TURN credential sets as GetIceServerConfig returns them (without the URIs)."""
        self._rest_rate("GetIceServerConfig", channel.arn, ICE_CONFIG_TPS, "GetIceServerConfig")
        issued = self._ice.issue(channel.arn, count)
        with self.lock:
            state = self.state(channel.arn)
            meter(state, "GET_ICE_SERVER_CONFIG")
            state.ice_expiry = clock.now() + issued[0]["Ttl"]
        return issued

    # ------------------------------------------------------ connection life
    def sweep(self) -> None:
        """Apply the connection rules that take time (the transport calls this every second):

        * a connection open for an hour, or whose client has sent nothing for
          10 minutes, gets GO_AWAY and is closed (emulator time);
        * when the TURN credentials last handed out for a channel expire, its
          connected clients get RECONNECT_ICE_SERVER, to fetch new ones with
          GetIceServerConfig (kvsmock's trigger: the service documents none).
        """
        now = clock.now()
        closing: list[tuple[Peer, str]] = []
        reminding: list[Peer] = []
        with self.lock:
            for state in self.channels.values():
                peers = ([state.master] if state.master is not None else []) + list(state.viewers.values())
                for peer in peers:
                    if now - peer.connected_at >= MAX_CONNECTION_SECONDS:
                        closing.append((peer, "The connection reached its limit of one hour."))
                    elif now - peer.last_heard >= IDLE_TIMEOUT_SECONDS:
                        closing.append((peer, "The connection was idle for 10 minutes."))
                    elif state.ice_expiry and now >= state.ice_expiry and peer.ice_reminded < state.ice_expiry:
                        peer.ice_reminded = state.ice_expiry
                        reminding.append(peer)
        for peer, reason in closing:
            self.disconnect(peer)
            peer.deliver(dict(GO_AWAY))
            peer.close(CLOSE_GOING_AWAY, reason)
        for peer in reminding:
            peer.deliver(dict(RECONNECT_ICE_SERVER))

    @property
    def ice(self) -> IceCredentials:
        """This backend's TURN credential signer (the TURN server checks usernames with it)."""
        return self._ice


#: Where a backend keeps its hub.
_HUB_ATTR = "signaling"


def hub_for(backend: Any) -> SignalingHub:
    """The signaling hub of one backend (account and region).

    Kept on the backend object (``backend.signaling``), so moto's reset (which
    empties a backend's ``__dict__``) starts signaling afresh with the rest of
    the state. ``dict.setdefault`` is atomic: two first callers get one hub.
    """
    hub = backend.__dict__.get(_HUB_ATTR)
    if hub is None:
        hub = backend.__dict__.setdefault(_HUB_ATTR, SignalingHub())
    return hub
