"""The media peer behind a storage session, and where the service finds something that can run one.

The service layer runs no media and opens no sockets. A transport that can
run WebRTC (the signaling server: an asyncio loop and aiortc) adds a
:class:`StoragePeerFactory` to :data:`storage_peer_factories` while it
runs. JoinStorageSession (and JoinStorageSessionAsViewer) then has it make a
peer, sends that peer's SDP offer over signaling, hands it the answer and
the ICE candidates that come back, and closes it when the session ends.
Without a factory the storage session sends a canned offer and no media
flows.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from ..streams import Stream


class StoragePeer(Protocol):
    """A storage session's running media peer. Its methods may be called from any thread and never block."""

    #: Its SDP offer, as the ``messagePayload`` of an SDP_OFFER event.
    offer: str

    def answer(self, payload: str) -> None:
        """The SDP answer to its offer (an SDP_ANSWER ``messagePayload``)."""

    def candidate(self, payload: str) -> None:
        """A remote ICE candidate (an ICE_CANDIDATE ``messagePayload``)."""

    def close(self, reason: str) -> None:
        """End it (the service ended the session); it does not report back through ``ended``."""


@dataclass(frozen=True)
class StoragePeerOrder:
    """What a factory is asked to make: the peer of one channel's storage session."""

    channel_arn: str
    #: The stream of the channel's media storage configuration: where the master's media goes.
    stream: Stream
    #: The viewer the peer serves (JoinStorageSessionAsViewer), or None for the master's peer.
    client_id: str | None
    #: Called once (from any thread) when the peer ends by itself, with why.
    ended: Callable[[StoragePeer, str], None]


class StoragePeerFactory(Protocol):
    """Makes a storage session's media peer; blocks until its offer is ready; raises KvsError if it cannot."""

    def __call__(self, order: StoragePeerOrder) -> StoragePeer: ...


class StoragePeerFactories:
    """The factories installed in this process, newest last; the newest is used.

    Process-wide like :data:`kvsmock.api.endpoints.running_signaling`: the
    signaling server that runs in this process serves every account and
    region, and so does its factory.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._factories: list[StoragePeerFactory] = []

    def add(self, factory: StoragePeerFactory) -> None:
        with self._lock:
            self._factories.append(factory)

    def remove(self, factory: StoragePeerFactory) -> None:
        with self._lock:
            if factory in self._factories:
                self._factories.remove(factory)

    def current(self) -> StoragePeerFactory | None:
        with self._lock:
            return self._factories[-1] if self._factories else None


#: The factories of this process (see :class:`StoragePeerFactories`).
storage_peer_factories = StoragePeerFactories()
