"""Open media connections counted on a stream, each released exactly once however it ends.

The service limits a stream to one PutMedia connection and three GetMedia
connections (not checked while quotas are off, :mod:`kvsmock.service.quotas`;
the connections are counted all the same). A :class:`ConnectionClaim` is one
counted connection, let go of when its response is done (after whatever
reads its upload has stopped feeding it), on every exit path: the count
drops once, never twice.
"""

from __future__ import annotations

import threading
from typing import Callable

from ..errors import ConnectionLimitExceededException
from .quotas import quotas
from .streams import Stream

#: The stream counters connections are kept in, and how many each allows.
PUT_MEDIA = "put_media_connections"
GET_MEDIA = "get_media_connections"
LIMITS = {PUT_MEDIA: 1, GET_MEDIA: 3}


class ConnectionClaim:
    """One connection counted on a stream, until :meth:`let_go`."""

    def __init__(self, stream: Stream, counter: str, lock: threading.RLock, on_release: Callable[[], None] | None):
        self._stream = stream
        self._counter = counter
        self._lock = lock
        self._held = True
        self._on_release = on_release

    def let_go(self) -> None:
        """The connection is done (again: nothing more happens)."""
        with self._lock:
            if not self._held:
                return
            self._held = False
            setattr(self._stream, self._counter, getattr(self._stream, self._counter) - 1)
        if self._on_release is not None:
            self._on_release()


def claim_connection(
    stream: Stream,
    counter: str,
    lock: threading.RLock,
    refusal: str,
    on_release: Callable[[], None] | None = None,
) -> ConnectionClaim:
    """Count one more connection of a kind on ``stream``, or refuse it with ConnectionLimitExceeded
    (never while quotas are off)."""
    with lock:
        if getattr(stream, counter) >= LIMITS[counter] and quotas.enforced:
            raise ConnectionLimitExceededException(refusal)
        setattr(stream, counter, getattr(stream, counter) + 1)
    return ConnectionClaim(stream, counter, lock, on_release)
