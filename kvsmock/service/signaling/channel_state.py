"""The live signaling state of one channel: who is connected, and what waits for whom."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ... import clock
from .alexa import AlexaOffer
from .peers import MASTER, Peer
from .storage_session import StorageSession

#: Undelivered messages kept per recipient (kvsmock's bound; the service documents none).
MAX_QUEUED_PER_RECIPIENT = 256


@dataclass
class QueuedEvent:
    """A message held for a recipient that is not connected."""

    event: dict[str, Any]
    sender: str
    action: str
    expires_at: float


@dataclass
class ChannelSignaling:
    """The live signaling state of one channel (its hub's lock guards it)."""

    arn: str
    master: Peer | None = None
    viewers: dict[str, Peer] = field(default_factory=dict)
    queues: dict[str, list[QueuedEvent]] = field(default_factory=dict)
    storage: StorageSession | None = None
    #: Viewers whose last offer came from the storage session: their answers and candidates go there.
    storage_viewers: set[str] = field(default_factory=set)
    alexa: dict[str, AlexaOffer] = field(default_factory=dict)
    #: When the TURN credentials GetIceServerConfig last handed out for the channel expire (0: none yet).
    ice_expiry: float = 0.0
    #: Usage: messages relayed by action, connections, queued/expired/replaced counts.
    counts: Counter = field(default_factory=Counter)

    def post(self, recipient: str, event: dict[str, Any], sender: str, action: str, ttl: int) -> None:
        """Deliver an event now, or hold it for ``recipient`` (a :attr:`Peer.key`) up to ``ttl`` seconds."""
        peer = self.master if recipient == MASTER else self.viewers.get(recipient.split(":", 1)[1])
        if peer is not None:
            peer.deliver(event)
            self.counts["delivered"] += 1
            return
        now = clock.now()
        queue = [q for q in self.queues.get(recipient, []) if q.expires_at > now]
        if action in ("SDP_OFFER", "SDP_ANSWER"):
            before = len(queue)
            queue = [q for q in queue if not (q.sender == sender and q.action == action)]
            self.counts["replaced"] += before - len(queue)
        queue.append(QueuedEvent(event, sender, action, now + ttl))
        del queue[:-MAX_QUEUED_PER_RECIPIENT]
        self.queues[recipient] = queue
        self.counts["queued"] += 1

    def flush(self, peer: Peer) -> None:
        """Deliver what was held for a peer that has just connected; drop what expired."""
        queue = self.queues.pop(peer.key, [])
        now = clock.now()
        for item in queue:
            if item.expires_at > now:
                peer.deliver(item.event)
                self.counts["delivered"] += 1
            else:
                self.counts["expired"] += 1

    def pending(self, recipient: str) -> list[dict[str, Any]]:
        """The events held for ``recipient`` that have not expired."""
        now = clock.now()
        return [q.event for q in self.queues.get(recipient, []) if q.expires_at > now]
