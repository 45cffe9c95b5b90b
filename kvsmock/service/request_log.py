"""The recent-request log: one entry per KVS request answered, the last few thousand kept.

Both modes write to the one log of the process (:data:`request_log`):
``kvsmock.requests()`` reads it in-process, ``GET /_kvsmock/requests`` in
the server, and ``kvsmock server --log-requests`` prints each entry as it
is written. A request is logged once it is over: for a streamed answer
(PutMedia's ACKs, GetMedia) when its response ends, with the bytes that
went each way.
"""

from __future__ import annotations

import threading
import time as _time
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from .faults import Strike

#: Entries kept; older ones are forgotten.
CAPACITY = 5000


@dataclass(frozen=True)
class RequestEntry:
    """One answered request."""

    #: When it arrived, epoch seconds on the emulator clock.
    time: float
    account: str
    region: str
    operation: str
    #: The stream or signaling channel the request named (name or ARN), if any.
    resource: str | None
    status: int
    #: The error type answered (``x-amzn-ErrorType``), if any.
    error: str | None
    duration_ms: float
    bytes_in: int
    bytes_out: int
    #: The fault rule that struck the request, and what it did.
    fault: str | None = None
    fault_effect: str | None = None

    @classmethod
    def answered(
        cls, *, time: float, started: float, account: str, region: str, operation: str, resource: str | None,
        status: int, error: str | None, bytes_in: int, bytes_out: int, strike: Strike | None,
    ) -> "RequestEntry":
        """The entry of a request that arrived at ``time`` (emulator clock) and ``started`` (``perf_counter``),
        answered now, struck by ``strike`` if a fault rule struck it."""
        return cls(
            time=time, account=account, region=region, operation=operation, resource=resource, status=status,
            error=error, duration_ms=round((_time.perf_counter() - started) * 1000, 3),
            bytes_in=bytes_in, bytes_out=bytes_out,
            fault=strike.rule_id if strike else None, fault_effect=strike.describe() if strike else None,
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        """The entry as one line of ``--log-requests``."""
        what = f"{self.operation} {self.resource}" if self.resource else self.operation
        error = f" {self.error}" if self.error else ""
        fault = f" [fault {self.fault}: {self.fault_effect}]" if self.fault else ""
        return (
            f"{self.account} {self.region} {what} -> {self.status}{error} "
            f"{self.duration_ms:.1f} ms in={self.bytes_in} out={self.bytes_out}{fault}"
        )


class RequestLog:
    """A bounded ring of :class:`RequestEntry` (thread-safe), with an optional listener per entry."""

    def __init__(self, capacity: int = CAPACITY):
        self._entries: deque[RequestEntry] = deque(maxlen=capacity)
        self._lock = threading.Lock()
        #: Called with each entry as it is written (``--log-requests``).
        self.listener: Callable[[RequestEntry], None] | None = None

    def add(self, entry: RequestEntry) -> None:
        with self._lock:
            self._entries.append(entry)
        listener = self.listener
        if listener is not None:
            listener(entry)

    def recent(self, limit: int | None = None) -> list[dict[str, Any]]:
        """The newest ``limit`` entries (all kept when None), newest first."""
        with self._lock:
            entries = list(self._entries)
        entries.reverse()
        return [e.as_dict() for e in (entries if limit is None else entries[:limit])]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: The process's request log.
request_log = RequestLog()


def requests(limit: int | None = None) -> list[dict[str, Any]]:
    """The recent KVS requests, newest first (``kvsmock.requests()``): time, account, region, operation,
    resource, status, error, duration_ms, bytes_in, bytes_out, and the fault that struck, if one did."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError("limit must be a whole number, 0 or more")
    return request_log.recent(limit)
