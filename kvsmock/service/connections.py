"""Open media connections counted on a stream, each released exactly once however it ends.

The service limits a stream to one PutMedia connection and three GetMedia
connections (not checked while quotas are off, :mod:`kvsmock.service.quotas`;
the connections are counted all the same). A :class:`ConnectionClaim` is one
counted connection; the parts of kvsmock that serve it (the response being
sent, the thread reading an upload) each let go of it when they are done, on
every exit path, and the count drops when the last one has: never while any
part still works on the stream, never twice.
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
    """One connection counted on a stream, released when all of its ``parts`` have let go."""

    def __init__(self, stream: Stream, counter: str, lock: threading.RLock, parts: int,
                 on_release: Callable[[], None] | None):
        self._stream = stream
        self._counter = counter
        self._lock = lock
        self._parts = parts
        self._on_release = on_release

    def let_go(self) -> None:
        """One part is done with the connection (calling it again from the same part is a mistake)."""
        with self._lock:
            if self._parts <= 0:
                return
            self._parts -= 1
            if self._parts:
                return
            setattr(self._stream, self._counter, getattr(self._stream, self._counter) - 1)
        if self._on_release is not None:
            self._on_release()

    @property
    def released(self) -> bool:
        with self._lock:
            return self._parts <= 0


def claim_connection(
    stream: Stream,
    counter: str,
    lock: threading.RLock,
    refusal: str,
    parts: int = 1,
    on_release: Callable[[], None] | None = None,
) -> ConnectionClaim:
    """Count one more connection of a kind on ``stream``, or refuse it with ConnectionLimitExceeded
    (never while quotas are off)."""
    with lock:
        if getattr(stream, counter) >= LIMITS[counter] and quotas.enforced:
            raise ConnectionLimitExceededException(refusal)
        setattr(stream, counter, getattr(stream, counter) + 1)
    return ConnectionClaim(stream, counter, lock, parts, on_release)
