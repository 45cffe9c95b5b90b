"""Received bytes addressed by absolute offset, kept as the chunks they arrived in.

The EBML walker reads element headers out of it, and takes a whole element
(a Cluster, say) out as one ``bytes`` with at most one copy, or as the
chunks it arrived in without any.
"""

from __future__ import annotations

from bisect import bisect_right

__all__ = ["ByteQueue"]


class ByteQueue:
    """Received bytes addressed by absolute offset, kept as the chunks they arrived in."""

    __slots__ = ("_chunks", "_starts", "end")

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._starts: list[int] = []
        self.end = 0  #: absolute offset just past the last byte received

    def append(self, data: bytes) -> None:
        if data:
            self._chunks.append(data)
            self._starts.append(self.end)
            self.end += len(data)

    def release(self, offset: int) -> None:
        """Forget chunks that end at or before ``offset``."""
        if offset >= self.end:
            self._chunks.clear()
            self._starts.clear()
            return
        i = bisect_right(self._starts, offset) - 1
        if i > 0:
            del self._chunks[:i]
            del self._starts[:i]

    def peek(self, pos: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``pos`` (fewer at the end of what was received)."""
        starts, chunks = self._starts, self._chunks
        i = bisect_right(starts, pos) - 1
        chunk = chunks[i]
        off = pos - starts[i]
        if off + n <= len(chunk):
            return chunk[off : off + n]
        parts = [chunk[off:]]
        got = len(chunk) - off
        i += 1
        while got < n and i < len(chunks):
            parts.append(chunks[i][: n - got])
            got += len(parts[-1])
            i += 1
        return b"".join(parts)

    def get(self, start: int, end: int) -> bytes:
        """The bytes ``[start, end)``, which must have been received and not released; one copy at most."""
        views = self.views(start, end)
        if len(views) == 1 and isinstance(views[0], bytes):
            return views[0]
        return b"".join(views)

    def views(self, start: int, end: int) -> list[bytes | memoryview]:
        """The bytes ``[start, end)`` as the chunks they arrived in, cut without copying.

        They must have been received and not released; a chunk taken whole
        is the ``bytes`` it arrived as, a part of one a ``memoryview`` of it.
        """
        if end > self.end or (self._starts and start < self._starts[0]):
            raise ValueError(f"bytes {start}-{end} not available")
        if start >= end:
            return []
        starts, chunks = self._starts, self._chunks
        i = bisect_right(starts, start) - 1
        chunk = chunks[i]
        off = start - starts[i]
        if off + (end - start) <= len(chunk):
            if off == 0 and end - start == len(chunk):
                return [chunk]
            return [memoryview(chunk)[off : off + end - start]]
        parts: list[bytes | memoryview] = [memoryview(chunk)[off:] if off else chunk]
        pos = starts[i] + len(chunk)
        i += 1
        while pos < end:
            chunk = chunks[i]
            take = min(len(chunk), end - pos)
            parts.append(memoryview(chunk)[:take] if take < len(chunk) else chunk)
            pos += take
            i += 1
        return parts
