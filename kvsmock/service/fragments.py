"""The fragment store of one stream: numbered, timestamped media kept once.

Each fragment is stored as the bytes it arrived as (its Cluster, sealed
under the stream's KMS key, and the producer Tags that followed it) plus a
small index entry; the MKV header of the PutMedia session it came in is
shared by all of that session's fragments. Readers look fragments up by
number or by timestamp; nothing here copies a stream. Fragments leave the
store when their retention ends.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from .. import clock
from .persistence import persistence

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
    #: The Cluster as uploaded: sealed under the stream's KMS key (bytes only when stored unencrypted).
    payload: Any
    tags_after: bytes = b""
    producer_tags: tuple[tuple[str, str], ...] = ()
    frame_count: int = 0
    #: False for streams without retention: served live, never listed or archived.
    persisted: bool = True
    #: Emulator time it entered the store (storage is billed from then).
    stored_at: float = 0.0

    @property
    def seq(self) -> int:
        """Its place in the stream's numbering (the number's last digits)."""
        return int(self.number[-28:])

    @property
    def cluster(self) -> bytes:
        """The Cluster bytes, decrypted; raises :class:`~kvsmock.errors.KmsKeyError` if the key is unusable."""
        payload = self.payload
        return bytes(payload) if isinstance(payload, (bytes, bytearray, memoryview)) else payload.open()

    @property
    def cluster_size(self) -> int:
        """Bytes of the Cluster as uploaded (known without decrypting it)."""
        return len(self.payload)

    @property
    def size(self) -> int:
        """FragmentSizeInBytes: the fragment and its metadata."""
        return self.cluster_size + len(self.tags_after)

    @property
    def stored_bytes(self) -> int:
        """Bytes kept for it (ciphertext and tags), in memory or on disk."""
        payload = self.payload
        held = payload.stored_size if hasattr(payload, "stored_size") else len(payload)
        return held + len(self.tags_after)

    def list_entry(self) -> dict[str, Any]:
        """The Fragment shape of ListFragments."""
        return {
            "FragmentNumber": self.number,
            "FragmentSizeInBytes": self.size,
            "ProducerTimestamp": round(self.producer_timestamp, 3),
            "ServerTimestamp": round(self.server_timestamp, 3),
            "FragmentLengthInMilliseconds": self.duration_ms,
        }


#: Decrypted Clusters a store keeps for the readers that want the same fragment at about the same time.
SHARED_CLEARTEXTS = 4

#: Streams without retention keep fragments in a host buffer for live readers (spec 2.5).
LIVE_BUFFER_SECONDS = 5 * 60
LIVE_BUFFER_BYTES = 200 * 1024 * 1024


class TimeReach:
    """For a list of timestamps in fragment-number order (mostly, not always, increasing): the greatest
    up to each index and the least from each index on, so a time range's fragments are found by
    bisection however out of order a few are (a second producer, a clock moved back)."""

    def __init__(self) -> None:
        self._most: list[float] = []  # max of times[0..i]
        self._least: list[float] = []  # min of times[i..]

    def rebuild(self, times: list[float]) -> None:
        self._most = list(itertools.accumulate(times, max))
        self._least = list(itertools.accumulate(reversed(times), min))[::-1]

    def insert(self, i: int, time: float) -> None:
        most, least = self._most, self._least
        most.insert(i, max(time, most[i - 1]) if i else time)
        j = i + 1
        while j < len(most) and most[j] < time:
            most[j] = time
            j += 1
        least.insert(i, min(time, least[i]) if i < len(least) else time)
        j = i - 1
        while j >= 0 and least[j] > time:
            least[j] = time
            j -= 1

    def first_reaching(self, start: float) -> int:
        """The first index whose time can be at or after ``start`` (none before it is)."""
        return bisect.bisect_left(self._most, start)

    def end_before_passing(self, end: float) -> int:
        """An index past which every time is after ``end``."""
        return bisect.bisect_right(self._least, end)


class FragmentStore:
    """All fragments of one stream that are still kept, in fragment-number (= arrival) order.

    Fragments leave the store when they expire: a persisted fragment
    ``retention_hours()`` hours after its server timestamp (the stream's
    current retention, so a decrease applies to data already stored), a
    fragment of a stream without retention after five minutes or once the
    live buffer holds more than 200 MB. Expiry happens lazily on every
    lookup and when :meth:`expire` is called (the server's sweep).
    """

    def __init__(self, seed: int, retention_hours: Callable[[], float] = lambda: 0, owner: str = ""):
        self.seed = seed
        #: ARN of the stream it belongs to (what the durable store files fragments under).
        self.owner = owner
        self.retention_hours = retention_hours
        self.fragments: list[StoredFragment] = []
        self._numbers: list[str] = []
        #: Where timestamps can be found, index by index (see :class:`TimeReach`), for ranged listings.
        self._server_reach = TimeReach()
        self._producer_reach = TimeReach()
        self._next_seq = 1
        self._lock = threading.Condition()
        self._next_expiry = math.inf
        self._live_bytes = 0
        self.stored_bytes = 0  #: bytes held by the fragments still kept
        self._kept: set[str] = set()
        #: Byte-seconds of storage of the fragments that have left the store.
        self._closed_byte_seconds = 0.0
        #: Counts removals (expiry, deletion): views built from the store can tell they are stale.
        self.removals = 0
        #: The newest Clusters read, decrypted (number -> bytes): see :meth:`cluster_of`.
        self._cleartexts: OrderedDict[str, bytes] = OrderedDict()
        self._cleartext_lock = threading.Lock()

    def next_number(self) -> str:
        """Reserve the next fragment number (strictly increasing per stream)."""
        with self._lock:
            seq = self._next_seq
            self._next_seq += 1
        number = f"{_PREFIX}{self.seed % 1_000_000:06d}{seq:028d}"
        assert len(number) == FRAGMENT_NUMBER_WIDTH
        return number

    def restore(self, fragments: list[StoredFragment], next_seq: int, closed_byte_seconds: float) -> None:
        """Take back what the durable store kept (a restart): the fragments, oldest first, and the counters."""
        with self._lock:
            self.fragments = list(fragments)
            self._numbers = [f.number for f in fragments]
            self._reindex_times()
            self._kept = set(self._numbers)
            self._next_seq = max([next_seq] + [f.seq + 1 for f in fragments])
            self._closed_byte_seconds = closed_byte_seconds
            self.stored_bytes = sum(f.stored_bytes for f in fragments)
            self._next_expiry = -math.inf

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def closed_byte_seconds(self) -> float:
        return self._closed_byte_seconds

    # ------------------------------------------------------------- changes
    def add(self, fragment: StoredFragment, cleartext: bytes | None = None) -> None:
        """Store a complete fragment and wake live readers.

        A persisted fragment is made durable first (with ``--data-dir``: its
        bytes on disk, its index entry committed); raises
        :class:`~kvsmock.service.persistence.StorageError` if that fails, and
        then nothing of it is kept. ``cleartext``, the fragment's Cluster as
        uploaded, is offered to the live readers (:meth:`cluster_of`): the
        first of them then neither reads it back nor decrypts it.
        """
        fragment.stored_at = clock.now()
        if fragment.persisted:
            payload = fragment.payload
            stored = persistence().store_fragment(self.owner, fragment)
            if stored is not payload:  # on disk now; in memory it is the same one (and may have spilled already)
                fragment.payload = stored
        if cleartext is not None:
            with self._cleartext_lock:
                self._share(fragment.number, cleartext)
        with self._lock:
            # Numbers are reserved when a fragment starts, so arrival order is
            # number order; insort keeps it so even if two sessions interleave.
            i = bisect.bisect_right(self._numbers, fragment.number)
            self._numbers.insert(i, fragment.number)
            self.fragments.insert(i, fragment)
            self._server_reach.insert(i, fragment.server_timestamp)
            self._producer_reach.insert(i, fragment.producer_timestamp)
            size = fragment.stored_bytes
            self.stored_bytes += size
            self._kept.add(fragment.number)
            if not fragment.persisted:
                self._live_bytes += size
                if self._live_bytes > LIVE_BUFFER_BYTES:
                    self._next_expiry = -math.inf
            self._next_expiry = min(self._next_expiry, self._expiry_of(fragment))
            self._expire_locked(clock.now())
            self._lock.notify_all()

    def add_tags(self, fragment: StoredFragment, data: bytes, pairs: tuple[tuple[str, str], ...]) -> None:
        """Producer Tags that arrived after the fragment was complete (after a known-size Cluster).

        Readers that already sent this fragment's chunk live do not see them;
        every later read does.
        """
        with self._lock:
            fragment.tags_after += data
            fragment.producer_tags += pairs
            if fragment.number in self._kept:
                self.stored_bytes += len(data)
                if not fragment.persisted:
                    self._live_bytes += len(data)
        if fragment.persisted:
            persistence().fragment_tags_grew(self.owner, fragment)

    def retention_changed(self) -> None:
        """The stream's retention changed: expiry times are worked out again."""
        with self._lock:
            self._next_expiry = -math.inf
            self._expire_locked(clock.now())

    def expire(self) -> int:
        """Drop what has expired now; returns how many fragments went."""
        with self._lock:
            return self._expire_locked(clock.now())

    def clear(self) -> None:
        """Drop everything (the stream is deleted)."""
        with self._lock:
            now = clock.now()
            for fragment in self.fragments:
                self._close(fragment, now)
            self._removed(self.fragments)
            self.fragments, self._numbers = [], []
            self._reindex_times()
            self.stored_bytes = self._live_bytes = 0
            self._next_expiry = math.inf
            self.removals += 1
            self._lock.notify_all()

    def byte_seconds(self) -> float:
        """Storage used so far, in byte-seconds of emulator time (persisted fragments only)."""
        with self._lock:
            now = clock.now()
            self._expire_locked(now)
            open_part = sum(f.stored_bytes * max(0.0, now - f.stored_at) for f in self.fragments if f.persisted)
            return self._closed_byte_seconds + open_part

    def _reindex_times(self) -> None:
        self._server_reach.rebuild([f.server_timestamp for f in self.fragments])
        self._producer_reach.rebuild([f.producer_timestamp for f in self.fragments])

    def _close(self, fragment: StoredFragment, until: float) -> None:
        self._kept.discard(fragment.number)
        if fragment.persisted:
            self._closed_byte_seconds += fragment.stored_bytes * max(0.0, until - fragment.stored_at)

    def _removed(self, fragments: list[StoredFragment]) -> None:
        """Tell the durable store which fragments left (the lock is held)."""
        gone = [f for f in fragments if f.persisted]
        if gone:
            persistence().fragments_removed(self.owner, gone, self._closed_byte_seconds)

    def _expiry_of(self, fragment: StoredFragment) -> float:
        if fragment.persisted:
            return fragment.server_timestamp + self.retention_hours() * 3600
        return fragment.server_timestamp + LIVE_BUFFER_SECONDS

    def _expire_locked(self, now: float) -> int:
        if now < self._next_expiry:
            return 0
        keep: list[StoredFragment] = []
        removed: list[StoredFragment] = []
        next_expiry = math.inf
        live_over = self._live_bytes - LIVE_BUFFER_BYTES
        for fragment in self.fragments:
            expiry = self._expiry_of(fragment)
            if not fragment.persisted and live_over > 0:  # the oldest of the live buffer go first
                live_over -= fragment.stored_bytes
                self._close(fragment, now)
                removed.append(fragment)
                continue
            if expiry <= now:
                self._close(fragment, min(now, expiry))
                removed.append(fragment)
                continue
            keep.append(fragment)
            next_expiry = min(next_expiry, expiry)
        gone = len(removed)
        if gone:
            self._removed(removed)
            self.removals += 1
            self.fragments = keep
            self._numbers = [f.number for f in keep]
            self._reindex_times()
            self.stored_bytes = sum(f.stored_bytes for f in keep)
            self._live_bytes = sum(f.stored_bytes for f in keep if not f.persisted)
        self._next_expiry = next_expiry
        return gone

    # ------------------------------------------------------- live readers
    def wait_for_newer(self, after: str, timeout: float, stop: Callable[[], bool] | None = None) -> bool:
        """Block until a fragment numbered above ``after`` is stored, the timeout,
        or (checked when :meth:`wake_all` wakes the waiters) ``stop()`` is true."""

        def ready() -> bool:
            return bool(self._numbers) and self._numbers[-1] > after

        with self._lock:
            self._lock.wait_for(lambda: ready() or (stop is not None and stop()), timeout=timeout)
            return ready()

    def cluster_of(self, fragment: StoredFragment) -> bytes:
        """``fragment.cluster``, decrypted once for all the readers that want it at about the same time.

        Live GetMedia readers of one stream all ask for the newest fragment
        together: the first decrypts it, the others share its bytes. The
        stream's KMS key is still checked on every read, as an open does.
        """
        payload = fragment.payload
        keys = getattr(payload, "keys", None)
        if keys is None:  # stored unencrypted
            return fragment.cluster
        with self._cleartext_lock:
            clear = self._cleartexts.get(fragment.number)
            if clear is not None:
                self._cleartexts.move_to_end(fragment.number)
                keys.check()
                return clear
            clear = fragment.cluster  # checks the key, then decrypts
            self._share(fragment.number, clear)
            return clear

    def _share(self, number: str, clear: bytes) -> None:
        """Keep a decrypted Cluster for the readers (the cleartext lock held), the oldest beyond the few let go."""
        self._cleartexts[number] = clear
        while len(self._cleartexts) > SHARED_CLEARTEXTS:
            self._cleartexts.popitem(last=False)

    def wake_all(self) -> None:
        with self._lock:
            self._lock.notify_all()

    # ------------------------------------------------------------- lookups
    def snapshot(self) -> list[StoredFragment]:
        with self._lock:
            self._expire_locked(clock.now())
            return list(self.fragments)

    def newer_than(self, after: str) -> list[StoredFragment]:
        """Fragments numbered above ``after`` ("" gives all), oldest first."""
        with self._lock:
            self._expire_locked(clock.now())
            return self.fragments[bisect.bisect_right(self._numbers, after) :]

    def scan(
        self,
        after: str,
        limit: int,
        accept: Callable[[StoredFragment], bool],
        within: tuple[float, float, bool] | None = None,
    ) -> list[StoredFragment]:
        """Up to ``limit`` fragments numbered above ``after`` that ``accept`` takes, oldest first.

        Costs the fragments it looks at, not the whole store (a ListFragments
        page). ``within`` = (start, end, producer): ``accept`` takes only
        fragments whose server (or producer) timestamp is in that range, so
        the scan skips the fragments before the first that can be in it and
        stops after the last.
        """
        with self._lock:
            self._expire_locked(clock.now())
            out: list[StoredFragment] = []
            first, last = bisect.bisect_right(self._numbers, after), len(self.fragments)
            if within is not None:
                start, end, producer = within
                reach = self._producer_reach if producer else self._server_reach
                first, last = max(first, reach.first_reaching(start)), reach.end_before_passing(end)
            for i in range(first, last):
                fragment = self.fragments[i]
                if accept(fragment):
                    out.append(fragment)
                    if len(out) >= limit:
                        break
            return out

    def by_number(self, number: str) -> StoredFragment | None:
        with self._lock:
            self._expire_locked(clock.now())
            i = bisect.bisect_left(self._numbers, number)
            if i < len(self._numbers) and self._numbers[i] == number:
                return self.fragments[i]
            return None

    def in_range(self, start: float, end: float, producer: bool) -> Iterator[StoredFragment]:
        """Fragments whose start timestamp lies in [start, end] (both inclusive)."""
        for f in self.snapshot():
            ts = f.producer_timestamp if producer else f.server_timestamp
            if start <= ts <= end:
                yield f

    def __len__(self) -> int:
        with self._lock:
            self._expire_locked(clock.now())
            return len(self.fragments)


def index_at_timestamp(fragments: list[StoredFragment], ts: float, producer: bool) -> int:
    """Index of the fragment holding instant ``ts``, else of the first starting after it (``len`` if none)."""
    for i, f in enumerate(fragments):
        start = f.producer_timestamp if producer else f.server_timestamp
        if start <= ts < start + max(f.duration_ms, 1) / 1000 or start >= ts:
            return i
    return len(fragments)


def millis_behind_now(fragment: StoredFragment) -> int:
    return max(0, int(round((clock.now() - fragment.server_timestamp) * 1000)))
