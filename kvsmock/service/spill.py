"""The in-memory default with a memory budget: past it, the oldest stored media moves to temporary files.

Without ``--data-dir`` kvsmock keeps state in memory, and a camera streaming
for an hour is gigabytes; a server that keeps it all in RAM ends up swapping
the machine to death. :class:`SpillingMemory` keeps at most ``limit`` bytes
of persisted fragments' media in memory; when a new fragment would go past
it, the oldest ones are queued for threads of their own (``kvsmock-spill``)
that writes them to files in a temporary directory (made on first need,
removed at exit); they are read back from there when asked for. Storing a
fragment only does bookkeeping: no file is written by the thread that
stores, nor while the budget's lock is held. Media queued but not yet
written still takes RAM, so a store waits while more than
:data:`SPILL_BACKLOG` bytes are queued (the disk is slower than the
uploads), a wait on the disk that the server's upload readers are told of
(:func:`~.blocking_waits.waiting_on_disk`). The files hold the same
ciphertext the memory held; they are not made durable: this is a cache on
disk, not a durable store, and a restart forgets it as it forgets
everything else in memory. The index of fragments stays in memory.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .blocking_waits import waiting_on_disk
from .encryption import Sealed
from .fragments import StoredFragment
from .persistence import InMemory

__all__ = ["DEFAULT_MEMORY_LIMIT", "SPILL_BACKLOG", "SpillingMemory", "parse_size"]

log = logging.getLogger("kvsmock")

#: Media kept in memory before the oldest spills to temporary files (the server's default).
DEFAULT_MEMORY_LIMIT = 1024**3

#: Most bytes of media queued for the spill threads before a store waits for them (or the limit, if smaller).
SPILL_BACKLOG = 64 * 1024**2
#: Threads writing spilled media: each write waits for the disk and, under load, for the GIL between its calls.
SPILL_THREADS = 8

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
          "G": 1024**3, "GB": 1024**3, "GIB": 1024**3, "T": 1024**4, "TB": 1024**4, "TIB": 1024**4}

#: A fragment held by the budget: its stream's ARN, the fragment, its media's size.
_Entry = tuple[str, StoredFragment, int]


def parse_size(text: str) -> int | None:
    """``512M``, ``2G``, ``1500000`` (bytes) ... to bytes; ``unlimited`` to None. ValueError otherwise."""
    value = text.strip().upper()
    if value in ("UNLIMITED", "NONE", "OFF"):
        return None
    number = value.rstrip("KMGTIB")
    unit = value[len(number):]
    try:
        size = int(float(number) * _UNITS[unit])
    except (ValueError, KeyError, OverflowError):
        size = -1
    if size < 0:
        raise ValueError(f"not a size: {text!r} (examples: 512M, 2G, unlimited)")
    return size


class SpillingMemory(InMemory):
    """State in memory, with at most ``limit`` bytes of stored media in RAM (None: no limit).

    A fragment's media is in one of four places: held (in RAM, counted
    against ``limit``), queued for the spill threads, in flight (being
    written), or spilled (its payload is a :class:`SealedFile`). All of
    it but the last counts in :attr:`held_bytes`. One lock guards the
    bookkeeping; the spill threads write with the lock released.
    """

    def __init__(self, limit: int | None = DEFAULT_MEMORY_LIMIT):
        self.limit = limit
        self._lock = threading.Lock()
        #: Wakes a spill thread: something was queued.
        self._work = threading.Condition(self._lock)
        #: Wakes stores waiting for the backlog to shrink (one at a time: see :meth:`_pass_room_on`).
        self._room = threading.Condition(self._lock)
        #: Wakes :meth:`settle`: nothing queued, nothing in flight.
        self._idle = threading.Condition(self._lock)
        #: Fragments whose media is in RAM and not yet queued, oldest first (by identity).
        self._held: OrderedDict[int, _Entry] = OrderedDict()
        self._held_bytes = 0
        #: Fragments waiting for the spill threads, oldest first (by identity).
        self._queue: OrderedDict[int, _Entry] = OrderedDict()
        #: Bytes queued or in flight: still in RAM, on their way out.
        self._backlog_bytes = 0
        #: The fragments being written now (by identity): whether each file is to go once written
        #: (the fragment was removed, or the budget reset, meanwhile).
        self._in_flight: dict[int, bool] = {}
        self._closed = False  # at exit: nothing more spills
        self._threads: list[threading.Thread] = []
        self.spilled_fragments = 0  #: spills completed
        self._failure_logged = False
        self._files: Any = None  # MediaFiles, made when the first spill is queued
        self._dir_lock = threading.Lock()
        self._dir: Path | None = None

    @property
    def spill_dir(self) -> Path | None:
        """Where spilled media is (None until something has spilled)."""
        return self._dir

    @property
    def held_bytes(self) -> int:
        """Bytes of media in RAM that count against the budget: held, queued for spilling, being written."""
        return self._held_bytes + self._backlog_bytes

    def _backlog_bound(self) -> int:
        """Bytes that may wait for the spill threads before a store waits too."""
        return min(SPILL_BACKLOG, self.limit or 0)

    def store_fragment(self, stream_arn: str, fragment: StoredFragment) -> Any:
        """Count a new fragment's media; queue the oldest for spilling past the limit (the newest never).

        Waits, first, while the spill threads are more than the backlog bound
        behind (a wait on the disk, announced as such). Writes nothing itself.
        """
        payload = fragment.payload
        if self.limit is None or not isinstance(payload, Sealed):
            return payload
        size = payload.stored_size
        with self._lock:
            bound = self._backlog_bound()

            def room() -> bool:
                return self._backlog_bytes <= bound or self._closed

            if not room():
                with waiting_on_disk():  # for the spill threads' writes: an upload reader lets another read meanwhile
                    self._room.wait_for(room)
            self._held[id(fragment)] = (stream_arn, fragment, size)
            self._held_bytes += size
            queued = False
            while self._held_bytes > self.limit and len(self._held) > 1 and not self._closed:
                key, entry = self._held.popitem(last=False)
                self._held_bytes -= entry[2]
                self._queue[key] = entry
                self._backlog_bytes += entry[2]
                queued = True
            if queued:
                self._start_locked()
                self._work.notify()
            self._pass_room_on()
        if queued and self._files is None:
            with contextlib.suppress(OSError):  # a spill thread tries again, and says why it cannot
                self._make_dir()
        return payload

    def _pass_room_on(self) -> None:
        """Wake one waiting store if the backlog has room (the lock is held); each passes it on in turn."""
        if self._backlog_bytes <= self._backlog_bound():
            self._room.notify()

    def _start_locked(self) -> None:
        """Start the spill threads if they are not running (the lock is held)."""
        while len(self._threads) < SPILL_THREADS:
            thread = threading.Thread(target=self._run, name="kvsmock-spill", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # no thread to be had (the interpreter is exiting): the media stays in memory
                if not self._threads:
                    self._drop_queue_locked()
                return
            self._threads.append(thread)

    def settle(self, timeout: float | None = None) -> bool:
        """Wait until nothing is queued for spilling or being written; False if ``timeout`` seconds pass first."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._queue and not self._in_flight, timeout)

    # ----------------------------------------------------------- the spill threads
    def _run(self) -> None:
        """A spill thread: write the queued fragments, oldest first, one at a time, for ever."""
        while True:
            with self._lock:
                self._work.wait_for(lambda: bool(self._queue))
                key, (stream_arn, fragment, size) = self._queue.popitem(last=False)
                self._in_flight[key] = False
            try:
                self._spill(key, stream_arn, fragment)
            except Exception:  # never let the thread die: stores would wait for it for ever
                log.exception("kvsmock: could not spill fragment %s", fragment.number)
            finally:
                with self._lock:
                    del self._in_flight[key]
                    self._backlog_bytes -= size
                    self._pass_room_on()
                    if not self._queue and not self._in_flight:
                        self._idle.notify_all()
            del fragment  # its media must not stay alive here while the thread waits

    def _spill(self, key: int, stream_arn: str, fragment: StoredFragment) -> None:
        """Write one fragment's media to a file (the lock is not held), then swap its payload for the file.

        If it was removed (or the budget reset) while being written, its file
        is deleted instead; if the disk refuses, the media stays in memory.
        """
        from .disk.sealed_file import SealedFile
        from .persistence import StorageError

        payload = fragment.payload
        if not isinstance(payload, Sealed):
            return
        try:
            files = self._files if self._files is not None else self._make_dir()
            path = files.path(stream_arn, fragment.number)
            files.write(path, payload.ciphertext, durable=False)
        except (StorageError, OSError) as err:
            with self._lock:  # logged once; not at all if it was removed or reset meanwhile (reset empties the dir)
                quiet = self._failure_logged or self._in_flight[key]
                self._failure_logged = self._failure_logged or not quiet
            if not quiet:
                log.warning("kvsmock: cannot spill media to disk (%s); it stays in memory", err)
            return
        spilled = SealedFile(
            payload.keys, payload.data_key, payload.nonce, files, str(path), payload.stored_size, payload.size
        )
        with self._lock:
            if not self._in_flight[key]:
                fragment.payload = spilled
                self.spilled_fragments += 1
                return
        files.remove([path])  # removed or reset while it was written

    def _make_dir(self) -> Any:
        """Make the spill directory and say where it is: by the store that first passes the limit, before it
        returns (a spill thread makes it if that failed)."""
        from .disk.media_files import MediaFiles

        with self._dir_lock:  # the store and the spill threads may get here together
            if self._files is not None:
                return self._files
            path = Path(tempfile.mkdtemp(prefix="kvsmock-spill-"))
            files = MediaFiles(path)
            atexit.register(self._close, path)
            log.warning("kvsmock: stored media passed the memory limit of %d bytes; the oldest now "
                        "spills to %s", self.limit, path)
            with self._lock:
                self._dir, self._files = path, files
        return files

    def _close(self, path: Path) -> None:
        """At exit: stop spilling, let a write under way finish (its file goes), remove the spill directory."""
        with self._lock:
            self._closed = True
            self._drop_queue_locked()
            self._in_flight = dict.fromkeys(self._in_flight, True)
            self._room.notify_all()
        self.settle(timeout=5)
        shutil.rmtree(path, ignore_errors=True)

    # ------------------------------------------------------------- removals
    def _drop_queue_locked(self) -> None:
        """Forget the queued fragments: they stay in memory (the lock is held)."""
        for _, _, size in self._queue.values():
            self._backlog_bytes -= size
        self._queue.clear()

    def fragments_removed(self, stream_arn: str, fragments: list[StoredFragment], closed_byte_seconds: float) -> None:
        """Forget removed fragments: held or queued, their bytes; being written, the file (once written); spilled,
        the file."""
        paths = []
        with self._lock:
            queue_shrank = False
            for fragment in fragments:
                key = id(fragment)
                held = self._held.pop(key, None)
                if held is not None:
                    self._held_bytes -= held[2]
                    continue
                queued = self._queue.pop(key, None)
                if queued is not None:
                    self._backlog_bytes -= queued[2]
                    queue_shrank = True
                elif key in self._in_flight:
                    self._in_flight[key] = True
                elif self._files is not None:
                    paths.append(self._files.path(stream_arn, fragment.number))
            if queue_shrank:
                self._room.notify_all()
                if not self._queue and not self._in_flight:
                    self._idle.notify_all()
            files = self._files
        if paths:
            files.remove(paths)

    def reset(self) -> None:
        """Forget everything: held and queued media, the spilled files; a write under way is deleted once done."""
        with self._lock:
            self._held.clear()
            self._held_bytes = 0
            self._drop_queue_locked()
            self._in_flight = dict.fromkeys(self._in_flight, True)
            self._room.notify_all()
            if not self._in_flight:
                self._idle.notify_all()
            if self._files is not None:
                self._files.clear()
