"""Rate limits on real request rates: a rolling one-second window on a clock freezegun leaves alone.

The emulator clock (:mod:`kvsmock.clock`) follows freezegun so that
retention and expiry can be tested without waiting; a rate limit is about
how fast requests really arrive, so it must not freeze with it (a frozen
clock would count every request as falling in the same second).
"""

from __future__ import annotations

import threading
import time
from collections import deque


def real_seconds() -> float:
    """Seconds on the system's monotonic clock, read past freezegun's patch of ``time.monotonic``."""
    gettime = getattr(time, "clock_gettime", None)
    if gettime is not None:
        return gettime(time.CLOCK_MONOTONIC)
    return time.monotonic()


class RateLimiter:
    """At most ``limit`` events in any rolling second (thread-safe)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._events: deque[float] = deque()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Count one event if the window has room; False (and nothing counted) if it has none."""
        now = real_seconds()
        with self._lock:
            while self._events and now - self._events[0] >= 1.0:
                self._events.popleft()
            if len(self._events) >= self.limit:
                return False
            self._events.append(now)
            return True

    def idle_for(self, seconds: float) -> bool:
        """True when no event was counted in the last ``seconds``."""
        with self._lock:
            return not self._events or real_seconds() - self._events[-1] > seconds
