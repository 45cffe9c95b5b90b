"""The fragment store of one stream: numbered, timestamped media kept once.

Each fragment is stored as the bytes it arrived as (its Cluster and the
producer Tags that followed it) plus a small index entry; the MKV header of
the PutMedia session it came in is shared by all of that session's
fragments. Readers look fragments up by number or by timestamp and slice
the stored bytes; nothing here copies a stream.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .. import clock

#: Fragment numbers are fixed-width 47-digit decimals, so that comparing them
#: as strings (as the official parser library does) equals comparing numbers.
FRAGMENT_NUMBER_WIDTH = 47
_PREFIX = "9134385233318"


@dataclass(frozen=True)
class MediaHeader:
    """The MKV header of one PutMedia session, replayed in front of every chunk."""

    ebml_header: bytes
    segment_header: bytes  # everything between the Segment header and the first Cluster
    tracks: tuple[Any, ...]
    timecode_scale_ns: int = 1_000_000


@dataclass
class StoredFragment:
    """One fragment as the service keeps it."""

    number: str
    server_timestamp: float  # epoch seconds, when KVS began receiving it
    producer_timestamp: float  # epoch seconds
    duration_ms: int
    header: MediaHeader
    cluster: bytes
    tags_after: bytes = b""
    producer_tags: tuple[tuple[str, str], ...] = ()
    frame_count: int = 0
    #: False for streams without retention: served live, never listed or archived.
    persisted: bool = True

    def add_tags(self, data: bytes, pairs: tuple[tuple[str, str], ...]) -> None:
        """Producer Tags that arrived after the fragment was complete (after a known-size Cluster).

        Readers that already sent this fragment's chunk live do not see them;
        every later read does.
        """
        self.tags_after += data
        self.producer_tags += pairs

    @property
    def size(self) -> int:
        """FragmentSizeInBytes: the fragment and its metadata."""
        return len(self.cluster) + len(self.tags_after)

    def list_entry(self) -> dict[str, Any]:
        """The Fragment shape of ListFragments."""
        return {
            "FragmentNumber": self.number,
            "FragmentSizeInBytes": self.size,
            "ProducerTimestamp": round(self.producer_timestamp, 3),
            "ServerTimestamp": round(self.server_timestamp, 3),
            "FragmentLengthInMilliseconds": self.duration_ms,
        }


@dataclass
class FragmentStore:
    """All fragments of one stream, in fragment-number (= arrival) order."""

    seed: int
    fragments: list[StoredFragment] = field(default_factory=list)
    _numbers: list[str] = field(default_factory=list)
    _next_seq: int = 1
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def next_number(self) -> str:
        """Reserve the next fragment number (strictly increasing per stream)."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
        number = f"{_PREFIX}{self.seed % 1_000_000:06d}{seq:028d}"
        assert len(number) == FRAGMENT_NUMBER_WIDTH
        return number

    def add(self, fragment: StoredFragment) -> None:
        """Store a complete fragment and wake live readers."""
        with self._lock:
            # Numbers are reserved when a fragment starts, so arrival order is
            # number order; insort keeps it so even if two sessions interleave.
            i = bisect.bisect_right(self._numbers, fragment.number)
            self._numbers.insert(i, fragment.number)
            self.fragments.insert(i, fragment)
            self._lock.notify_all()

    def wait_for_new(self, count_seen: int, timeout: float, stop: Callable[[], bool] | None = None) -> bool:
        """Block until the store holds more than ``count_seen`` fragments, the timeout,
        or (checked when :meth:`wake_all` wakes the waiters) ``stop()`` is true."""
        with self._lock:
            self._lock.wait_for(
                lambda: len(self.fragments) > count_seen or (stop is not None and stop()), timeout=timeout
            )
            return len(self.fragments) > count_seen

    def wake_all(self) -> None:
        with self._lock:
            self._lock.notify_all()

    # ------------------------------------------------------------- lookups
    def snapshot(self) -> list[StoredFragment]:
        with self._lock:
            return list(self.fragments)

    def by_number(self, number: str) -> StoredFragment | None:
        with self._lock:
            i = bisect.bisect_left(self._numbers, number)
            if i < len(self._numbers) and self._numbers[i] == number:
                return self.fragments[i]
            return None

    def after_number(self, number: str) -> int:
        """Index of the first fragment whose number is greater than ``number``."""
        with self._lock:
            return bisect.bisect_right(self._numbers, number)

    def index_at_timestamp(self, ts: float, producer: bool) -> int:
        """Index of the fragment holding instant ``ts``, else the first starting after it."""
        frags = self.snapshot()
        for i, f in enumerate(frags):
            start = f.producer_timestamp if producer else f.server_timestamp
            if start <= ts < start + max(f.duration_ms, 1) / 1000 or start >= ts:
                return i
        return len(frags)

    def in_range(self, start: float, end: float, producer: bool) -> Iterator[StoredFragment]:
        """Fragments whose start timestamp lies in [start, end] (both inclusive)."""
        for f in self.snapshot():
            ts = f.producer_timestamp if producer else f.server_timestamp
            if start <= ts <= end:
                yield f

    def __len__(self) -> int:
        return len(self.fragments)


def millis_behind_now(fragment: StoredFragment) -> int:
    return max(0, int(round((clock.now() - fragment.server_timestamp) * 1000)))
