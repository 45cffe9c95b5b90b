"""A read-only, seekable file over byte pieces that are never joined: how the remux feeds PyAV.

The MKV a clip is made from is its header and the Clusters of the fragments
it selected; PyAV reads them through this file one piece at a time, and a
piece given as a callable (one that decrypts a Cluster, say) is only called
when a read reaches the piece before it: the next piece is opened on another
thread while PyAV reads this one (a decryption gives up the GIL, so it runs
beside the demuxer and muxer on the other core).
"""

from __future__ import annotations

import bisect
import io
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor

__all__ = ["PiecesReader"]


#: Threads opening pieces ahead, shared by every reader.
OPENING_THREADS = 2
_opener: ThreadPoolExecutor | None = None
_opener_lock = threading.Lock()


def _opening_pool() -> ThreadPoolExecutor:
    global _opener
    with _opener_lock:
        if _opener is None:
            _opener = ThreadPoolExecutor(OPENING_THREADS, thread_name_prefix="kvsmock-clip-open")
        return _opener


class PiecesReader(io.RawIOBase):
    """A read-only, seekable file over byte pieces (or callables giving them), never joined.

    A piece given as a callable is called (on another thread) when a read
    first reaches the piece before it, or (on the reading thread) when a read
    reaches it unannounced, after a seek; only the piece being read and the
    one opened ahead are kept. :attr:`opened` calls back with each piece's
    index and bytes the first time it is read.
    """

    def __init__(
        self,
        pieces: Sequence[bytes | memoryview | Callable[[], bytes]],
        sizes: Sequence[int],
        opened: Callable[[int, bytes], None] | None = None,
    ) -> None:
        super().__init__()
        self._sources = list(pieces)
        self._starts: list[int] = []
        total = 0
        for size in sizes:
            self._starts.append(total)
            total += size
        self._sizes = list(sizes)
        self._size = total
        self._pos = 0
        self._current: tuple[int, bytes] | None = None
        #: The next piece, being opened on another thread.
        self._ahead: tuple[int, Future] | None = None
        self._opened = opened
        self._seen: set[int] = set()
        #: What a piece's callable raised (the read then ends the file); re-raised by the caller.
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def _piece(self, i: int) -> bytes:
        if self._current is not None and self._current[0] == i:
            return self._current[1]
        source = self._sources[i]
        ahead = self._ahead
        try:
            if ahead is not None and ahead[0] == i:
                self._ahead = None
                data = ahead[1].result()
            else:  # a seek elsewhere: the piece opened ahead stays for when the reads come back to it
                data = source() if callable(source) else source
        except Exception as err:  # noqa: BLE001 - handed back to the caller, not to FFmpeg
            self.error = err
            return b""  # FFmpeg sees the end of the file
        if not isinstance(data, bytes):
            data = bytes(data)
        if len(data) != self._sizes[i]:
            raise ValueError(f"piece {i} has {len(data)} bytes, not {self._sizes[i]}")
        self._current = (i, data)
        if i not in self._seen:
            self._seen.add(i)
            if self._opened is not None:
                self._opened(i, data)
        self._open_ahead(i + 1)
        return data

    def _open_ahead(self, i: int) -> None:
        """Start opening the next piece that has bytes, if it is a callable not read yet."""
        while i < len(self._sizes) and not self._sizes[i]:
            i += 1
        if i >= len(self._sizes) or i in self._seen or (self._ahead is not None and self._ahead[0] == i):
            return
        source = self._sources[i]
        if callable(source):
            self._ahead = (i, _opening_pool().submit(source))

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes, never crossing into the next piece (short reads are fine for
        FFmpeg), so a whole piece comes back without a copy."""
        pos = self._pos
        if pos >= self._size or size == 0:
            return b""
        i = bisect.bisect_right(self._starts, pos) - 1
        while not self._sizes[i]:  # an empty piece
            i += 1
        start = self._starts[i]
        piece = self._piece(i)
        if not piece:
            return b""
        stop = len(piece) if size is None or size < 0 else min(len(piece), pos - start + size)
        self._pos = start + stop
        return piece[pos - start : stop]
