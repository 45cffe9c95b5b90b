"""Memory for the media a stream keeps in RAM: one anonymous mapping per fragment, populated when made.

A fragment's sealed bytes are written once and kept until the fragment
expires, so every byte of them lands in memory the process has never
touched. Taken from the Python heap, that memory is zeroed page by page as
the cipher first writes it (a page fault every 4 KiB, with the GIL held
while the heap grows); a mapping made with ``MAP_POPULATE`` gets all its
pages in one system call, without the GIL, about twice as fast here
(``benchmarks/media.py``), and goes back to the system the moment the
fragment's last reference is dropped.

Small fragments, and any fragment once :data:`MAX_MAPPINGS` are live (the
kernel allows a process about 65,000 mappings), take ordinary memory.
"""

from __future__ import annotations

import mmap
import threading

__all__ = ["MAX_MAPPINGS", "MIN_MAPPED_SIZE", "media_buffer", "mapped_count"]

#: Buffers smaller than this come from the Python heap (glibc's own default mmap threshold).
MIN_MAPPED_SIZE = 128 * 1024
#: Live mappings at most; past it, buffers come from the heap.
MAX_MAPPINGS = 30_000

_FLAGS = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | getattr(mmap, "MAP_POPULATE", 0)
_lock = threading.Lock()
_live = 0


class _Mapping(mmap.mmap):
    """An anonymous mapping that counts itself out when it is freed."""

    def __del__(self) -> None:
        global _live
        with _lock:
            _live -= 1


def media_buffer(size: int) -> memoryview:
    """A writable buffer of ``size`` bytes for a fragment's stored bytes (contents undefined until written)."""
    global _live
    if size >= MIN_MAPPED_SIZE:
        with _lock:
            admitted = _live < MAX_MAPPINGS
            if admitted:
                _live += 1
        if admitted:
            try:
                return memoryview(_Mapping(-1, size, flags=_FLAGS))
            except OSError:  # out of mappings or address space: the heap may still serve
                with _lock:
                    _live -= 1
    return memoryview(bytearray(size))


def mapped_count() -> int:
    """Live mappings made by :func:`media_buffer`."""
    return _live
