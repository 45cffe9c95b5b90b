"""The in-memory default with a memory budget: past it, the oldest stored media moves to temporary files.

Without ``--data-dir`` kvsmock keeps state in memory, and a camera streaming
for an hour is gigabytes; a server that keeps it all in RAM ends up swapping
the machine to death. :class:`SpillingMemory` keeps at most ``limit`` bytes
of persisted fragments' media in memory; when a new fragment would go past
it, the oldest ones are written to files in a temporary directory (made on
first need, removed at exit) and read back from there when asked for. The
files hold the same ciphertext the memory held; nothing is fsynced: this is
a cache on disk, not a durable store, and a restart forgets it as it
forgets everything else in memory. The index of fragments stays in memory.
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .encryption import Sealed
from .fragments import StoredFragment
from .persistence import InMemory

__all__ = ["DEFAULT_MEMORY_LIMIT", "SpillingMemory", "parse_size"]

log = logging.getLogger("kvsmock")

#: Media kept in memory before the oldest spills to temporary files (the server's default).
DEFAULT_MEMORY_LIMIT = 1024**3

_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1024**2, "MB": 1024**2, "MIB": 1024**2,
          "G": 1024**3, "GB": 1024**3, "GIB": 1024**3, "T": 1024**4, "TB": 1024**4, "TIB": 1024**4}


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
    """State in memory, with at most ``limit`` bytes of stored media in RAM (None: no limit)."""

    def __init__(self, limit: int | None = DEFAULT_MEMORY_LIMIT):
        self.limit = limit
        self._lock = threading.Lock()
        #: Fragments whose media is in RAM, oldest first (by identity), with their sizes.
        self._held: OrderedDict[int, tuple[str, StoredFragment, int]] = OrderedDict()
        self.held_bytes = 0
        self.spilled_fragments = 0
        self._files: Any = None  # MediaFiles, made on first spill
        self._dir: Path | None = None

    @property
    def spill_dir(self) -> Path | None:
        """Where spilled media is (None until something has spilled)."""
        return self._dir

    def store_fragment(self, stream_arn: str, fragment: StoredFragment) -> Any:
        payload = fragment.payload
        if self.limit is None or not isinstance(payload, Sealed):
            return payload
        size = payload.stored_size
        with self._lock:
            self._held[id(fragment)] = (stream_arn, fragment, size)
            self.held_bytes += size
            while self.held_bytes > self.limit and len(self._held) > 1:
                _, (arn, oldest, oldest_size) = self._held.popitem(last=False)
                self.held_bytes -= oldest_size
                if oldest is not fragment:
                    self._spill(arn, oldest)
        return payload

    def _spill(self, stream_arn: str, fragment: StoredFragment) -> None:
        """Move one fragment's media to a file (the lock is held); it stays in memory if the disk refuses."""
        from .disk.media_files import MediaFiles
        from .disk.sealed_file import SealedFile
        from .persistence import StorageError

        payload = fragment.payload
        if not isinstance(payload, Sealed):
            return
        if self._files is None:
            self._dir = Path(tempfile.mkdtemp(prefix="kvsmock-spill-"))
            atexit.register(shutil.rmtree, self._dir, True)
            self._files = MediaFiles(self._dir)
            log.warning("kvsmock: stored media passed the memory limit of %d bytes; the oldest now "
                        "spills to %s", self.limit, self._dir)
        path = self._files.path(stream_arn, fragment.number)
        try:
            self._files.write(path, payload.ciphertext, durable=False)
        except StorageError:
            return
        fragment.payload = SealedFile(
            payload.keys, payload.data_key, payload.nonce, self._files, str(path), payload.stored_size, payload.size
        )
        self.spilled_fragments += 1

    def fragments_removed(self, stream_arn: str, fragments: list[StoredFragment], closed_byte_seconds: float) -> None:
        paths = []
        with self._lock:
            for fragment in fragments:
                held = self._held.pop(id(fragment), None)
                if held is not None:
                    self.held_bytes -= held[2]
                elif self._files is not None:
                    paths.append(self._files.path(stream_arn, fragment.number))
        if paths:
            self._files.remove(paths)

    def reset(self) -> None:
        with self._lock:
            self._held.clear()
            self.held_bytes = 0
            if self._files is not None:
                self._files.clear()
