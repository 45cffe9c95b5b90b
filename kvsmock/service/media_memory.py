"""Memory for the media a stream keeps in RAM: one anonymous mapping per fragment, populated when made.

A fragment's sealed bytes are written once and kept until the fragment
expires, so every byte of them lands in memory the process has never
touched. Taken from the Python heap, that memory is zeroed page by page as
the cipher first writes it (a page fault every 4 KiB, with the GIL held
while the heap grows); a mapping made with ``MAP_POPULATE`` gets all its
pages in one system call, without the GIL, about twice as fast here
(``benchmarks/media.py``), and goes back to the system the moment the
fragment's last reference is dropped.

A :class:`MediaBuffer` is made when a fragment begins, as large as the
fragment is expected to be, and written as the fragment's bytes arrive. A
mapping that turns out too small is moved to a larger place by the kernel
(``mremap``: nothing is copied, the new pages are taken as they are
written); when the fragment is complete it is cut to what was written.

Small fragments, and any fragment once :data:`MAX_MAPPINGS` are live (the
kernel allows a process about 65,000 mappings), take ordinary memory; so does
a buffer that only passes bytes on (``kept=False``: a fragment written to
disk as it arrives), which is cleared and reused as each step is written.
"""

from __future__ import annotations

import mmap
import threading

__all__ = ["MAX_MAPPINGS", "MIN_MAPPED_SIZE", "MediaBuffer", "mapped_count"]

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


def _allocate(size: int) -> _Mapping | bytearray:
    """``size`` bytes: a populated mapping when large enough and one may be made, else heap memory."""
    global _live
    if size >= MIN_MAPPED_SIZE:
        with _lock:
            admitted = _live < MAX_MAPPINGS
            if admitted:
                _live += 1
        if admitted:
            try:
                return _Mapping(-1, size, flags=_FLAGS)
            except OSError:  # out of mappings or address space: the heap may still serve
                with _lock:
                    _live -= 1
    return bytearray(size)


class MediaBuffer:
    """A fragment's stored bytes, written at the end as they come (see the module docstring).

    ``capacity``: the bytes the fragment is expected to take (or, not
    ``kept``, the bytes held at once between :meth:`clear` calls). Views that
    :meth:`room` hands out must be dropped before the next call.
    """

    __slots__ = ("_memory", "_kept", "written")

    def __init__(self, capacity: int, kept: bool = True) -> None:
        self._kept = kept
        self._memory = _allocate(max(capacity, 1)) if kept else bytearray(max(capacity, 1))
        #: Bytes written so far.
        self.written = 0

    def room(self, size: int) -> memoryview:
        """A writable view of ``size`` bytes after what is written (growing the buffer if it must)."""
        end = self.written + size
        if end > len(self._memory):
            self._grow(max(end, 2 * len(self._memory)))
        return memoryview(self._memory)[self.written : end]

    def wrote(self, count: int) -> None:
        """``count`` more bytes were written into the last :meth:`room`."""
        self.written += count

    def view(self) -> memoryview:
        """What was written (drop it before the next :meth:`room`)."""
        return memoryview(self._memory)[: self.written]

    def clear(self) -> None:
        """Forget what was written (it has been passed on): the next :meth:`room` starts at the beginning."""
        self.written = 0

    def done(self) -> memoryview:
        """What was written, the rest given back; nothing more is written after this."""
        memory, written = self._memory, max(self.written, 1)
        if len(memory) > written:
            try:
                if isinstance(memory, bytearray):
                    del memory[written:]
                else:
                    memory.resize(written)
            except BufferError:  # a view of it is still held somewhere: the spare room stays
                pass
        return memoryview(memory)[: self.written]

    def _grow(self, capacity: int) -> None:
        memory = self._memory
        if isinstance(memory, _Mapping):
            try:
                memory.resize(capacity)
                return
            except (OSError, BufferError):  # no room to move it (or a view still held): copy instead
                pass
        larger = _allocate(capacity) if self._kept else bytearray(capacity)
        larger[: self.written] = memory[: self.written]
        self._memory = larger


def mapped_count() -> int:
    """Live mappings made for media buffers."""
    return _live
