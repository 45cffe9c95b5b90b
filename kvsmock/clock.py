"""The one clock of the emulator.

All time in kvsmock comes from :func:`now`. It reads ``time.time()`` at call
time, so freezegun (which replaces ``time.time``) moves kvsmock's time just
as it moves moto's. The server can move its clock further with an offset.

The offset is process-wide by design, like freezegun's clock it adds to:
there is one emulator clock, which every backend, the server and the
in-process mocks read, so no two accounts or regions disagree on "now".
It is no backend state, so moto's reset leaves it alone; the server's
``/_kvsmock/reset`` and the pytest fixtures put it back explicitly.
"""

from __future__ import annotations

import threading
import time

_lock = threading.Lock()
_offset = 0.0
#: The clock may be moved within these epoch seconds (1970 to the end of year 9999):
#: outside them the timestamps in every response would be ones clients cannot parse.
EARLIEST = 0.0
LATEST = 253_402_300_799.0


def now() -> float:
    """Current emulator time in epoch seconds."""
    return time.time() + _offset


def now_ms() -> int:
    """Current emulator time in epoch milliseconds."""
    return int(now() * 1000)


def _checked(epoch_seconds: float) -> float:
    if not EARLIEST <= epoch_seconds <= LATEST:  # also refuses NaN
        raise ValueError(f"the clock can be moved to times from {EARLIEST:.0f} to {LATEST:.0f} epoch seconds")
    return epoch_seconds


def advance(seconds: float) -> float:
    """Move the clock forward (or back, for negative values); returns the new time.

    Raises ValueError (and leaves the clock alone) if the new time would fall
    outside :data:`EARLIEST` .. :data:`LATEST`.
    """
    global _offset
    with _lock:
        _checked(time.time() + _offset + seconds)
        _offset += seconds
    return now()


def set_time(epoch_seconds: float) -> float:
    """Make :func:`now` return ``epoch_seconds`` from here on (time keeps flowing); ValueError outside the range."""
    global _offset
    with _lock:
        _offset = _checked(epoch_seconds) - time.time()
    return now()


def reset() -> None:
    """Back to the wall clock (or freezegun's clock)."""
    global _offset
    with _lock:
        _offset = 0.0


def offset() -> float:
    """Seconds the clock is ahead of ``time.time()`` (negative: behind)."""
    return _offset
