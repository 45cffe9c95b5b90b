"""WebRTC signaling as the service runs it, without the network.

The state of each signaling channel's live side: who is connected (one
master, up to ten viewers), which messages wait for a recipient that is not
connected yet (kept up to the channel's MessageTtlSeconds), the storage
session's peer (JoinStorageSession) and Alexa offers waiting for the
master's answer (SendAlexaOfferToMaster).

A transport (the WebSocket server in :mod:`kvsmock.signaling`) registers each
connection with :meth:`~.hub.SignalingHub.connect`, giving two thread-safe
callbacks: ``deliver(event)`` sends one server event (a dict in the
service's JSON shape) to that client, ``close(code, reason)`` ends the
connection. It hands every client message it reads to
:meth:`~.hub.SignalingHub.receive`, which routes it and returns the
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
"kvsmock's choice".

Modules: :mod:`.hub` (the state of one backend's channels, and routing),
:mod:`.peers`, :mod:`.channel_state` (connections and held messages of one
channel), :mod:`.validation` (client input), :mod:`.events` (server events),
:mod:`.storage_session`, :mod:`.storage_peer` (the hook a transport that runs
WebRTC media installs), :mod:`.storage_lifetime`, :mod:`.storage_ingest` (the
received media into the stream), :mod:`.alexa`, :mod:`.ice_credentials`,
:mod:`.sdp` and :mod:`.metering`.
"""
