"""A backend's streams or channels by name, with the names kept sorted for listing."""

from __future__ import annotations

import bisect
from typing import Any, TypeVar

__all__ = ["NamedTable"]

V = TypeVar("V")


class NamedTable(dict[str, V]):
    """A dict (name -> resource) that also keeps its names in order, so a List page costs
    the page (a binary search to where it starts), not a sort of every resource."""

    def __init__(self) -> None:
        super().__init__()
        self._names: list[str] = []

    def __setitem__(self, name: str, value: V) -> None:
        if name not in self:
            bisect.insort(self._names, name)
        super().__setitem__(name, value)

    def __delitem__(self, name: str) -> None:
        super().__delitem__(name)
        del self._names[bisect.bisect_left(self._names, name)]

    def pop(self, name: str, *default: Any) -> Any:
        if name in self:
            value = self[name]
            del self[name]
            return value
        return super().pop(name, *default)

    def clear(self) -> None:
        super().clear()
        self._names.clear()

    def after(self, after: str, prefix: str, count: int) -> list[V]:
        """Up to ``count`` resources whose names start with ``prefix`` and sort after ``after``, by name."""
        names = self._names
        start = bisect.bisect_left(names, prefix)
        if after:
            start = max(start, bisect.bisect_right(names, after))
        out: list[V] = []
        for i in range(start, len(names)):
            if len(out) >= count or not names[i].startswith(prefix):
                break
            out.append(self[names[i]])
        return out
