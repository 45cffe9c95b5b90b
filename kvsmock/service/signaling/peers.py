"""A connected signaling client (master or viewer) and its per-connection message rates."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ... import clock
from ..rate_limit import RateLimiter

if TYPE_CHECKING:
    from .hub import SignalingHub

MASTER, VIEWER = "MASTER", "VIEWER"
#: Viewers connected to one channel at once (a soft quota of the service; lifted while quotas are off).
MAX_VIEWERS_PER_CHANNEL = 10
#: Messages per second per WebSocket connection, by action.
MESSAGE_RATE_LIMITS = {"SDP_OFFER": 5, "SDP_ANSWER": 5, "ICE_CANDIDATE": 20}
#: Connects per second per channel (a hard quota of the service).
CONNECTS_PER_SECOND = 3
#: A connection lasts at most an hour, and ends after 10 minutes without a message from its client.
MAX_CONNECTION_SECONDS = 3600
IDLE_TIMEOUT_SECONDS = 600


@dataclass(eq=False)
class Peer:
    """One connected client as the service sees it."""

    channel_arn: str
    role: str
    client_id: str | None
    deliver: Callable[[dict[str, Any]], None]
    close: Callable[[int, str], None]
    #: The hub it is registered with (the transport disconnects it there).
    hub: SignalingHub
    connected_at: float = field(default_factory=clock.now)
    #: When its client last sent a message (emulator time).
    last_heard: float = field(default_factory=clock.now)
    #: The credential expiry of the last RECONNECT_ICE_SERVER it was sent (kvsmock sends one per expiry).
    ice_reminded: float = 0.0
    active: bool = True
    limiters: dict[str, RateLimiter] = field(
        default_factory=lambda: {a: RateLimiter(n) for a, n in MESSAGE_RATE_LIMITS.items()}
    )

    @property
    def key(self) -> str:
        """How held messages address it: ``MASTER`` or ``VIEWER:<ClientId>``."""
        return MASTER if self.role == MASTER else f"{VIEWER}:{self.client_id}"
