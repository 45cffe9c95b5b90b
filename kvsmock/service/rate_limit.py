"""Rate limits on real request rates: a rolling one-second window on a clock freezegun leaves alone.

The emulator clock (:mod:`kvsmock.clock`) follows freezegun so that
retention and expiry can be tested without waiting; a rate limit is about
how fast requests really arrive, so it must not freeze with it (a frozen
clock would count every request as falling in the same second).

While quotas are off (:data:`kvsmock.service.quotas.quotas`) a limiter
never refuses, but still counts what it lets through (``idle_for`` stays true
to what happened).
"""

from __future__ import annotations

import threading
import time
from collections import deque

from . import quotas as _quotas  # a module attribute read per call: quotas imports this module too


def real_seconds() -> float:
    """Seconds on the system's monotonic clock, read past freezegun's patch of ``time.monotonic``."""
    gettime = getattr(time, "clock_gettime", None)
    if gettime is not None:
        return gettime(time.CLOCK_MONOTONIC)
    return time.monotonic()


class RateLimiter:
    """At most ``limit`` points (one per event by default) in any rolling second (thread-safe)."""

    def __init__(self, limit: int):
        self.limit = limit
        self._events: deque[tuple[float, int]] = deque()
        self._used = 0
        self._lock = threading.Lock()

    def _forget_old(self, now: float) -> None:
        while self._events and now - self._events[0][0] >= 1.0:
            self._used -= self._events.popleft()[1]

    def allow(self, points: int = 1) -> bool:
        """Count an event of ``points`` if the window has room; False (and nothing counted) if it has none.

        While quotas are off it always counts the event and returns True.
        """
        now = real_seconds()
        with self._lock:
            self._forget_old(now)
            if self._used + points > self.limit and _quotas.quotas.enforced:
                return False
            self._events.append((now, points))
            self._used += points
            return True

    def count(self, points: int) -> None:
        """Count an event of ``points`` whatever room is left (the window may go over its limit)."""
        now = real_seconds()
        with self._lock:
            self._forget_old(now)
            self._events.append((now, points))
            self._used += points

    def has_room(self, points: int = 1) -> bool:
        """True when ``points`` more would fit in the window now (or quotas are off); counts nothing."""
        now = real_seconds()
        with self._lock:
            self._forget_old(now)
            return self._used + points <= self.limit or not _quotas.quotas.enforced

    def idle_for(self, seconds: float) -> bool:
        """True when no event was counted in the last ``seconds``."""
        with self._lock:
            return not self._events or real_seconds() - self._events[-1][0] > seconds
