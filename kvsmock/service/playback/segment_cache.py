"""The LRU cache of remuxed segments one backend keeps, bounded in bytes."""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable

from ..fragments import StoredFragment


class SegmentCache:
    """Remuxed segments of stored fragments, least recently used dropped first, bounded in bytes.

    Entries are keyed by the fragment object itself (and what was made of
    it), never by its stream ARN and number alone: two streams can share
    both (the same name re-created under a frozen clock), not their fragments.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        #: (id(fragment), *what) -> (fragment, value); holding the fragment keeps its id from being reused.
        self._items: collections.OrderedDict[Any, tuple[StoredFragment, Any]] = collections.OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    @staticmethod
    def _size(value: Any) -> int:
        if isinstance(value, (bytes, bytearray)):
            return len(value)
        return sum(len(v) for v in vars(value).values() if isinstance(v, (bytes, bytearray)))

    def get_or_make(self, fragment: StoredFragment, what: tuple, make: Callable[[], Any]) -> Any:
        """The cached value made of ``fragment`` as ``what`` describes, made now if absent."""
        key = (id(fragment), *what)
        with self._lock:
            held = self._items.get(key)
            if held is not None and held[0] is fragment:
                self._items.move_to_end(key)
                return held[1]
        value = make()
        size = self._size(value)
        with self._lock:
            if key not in self._items and size <= self._max // 4:
                self._items[key] = (fragment, value)
                self._bytes += size
                while self._bytes > self._max:
                    _, (_, old) = self._items.popitem(last=False)
                    self._bytes -= self._size(old)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
