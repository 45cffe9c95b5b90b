"""Opaque NextToken pagination over sorted keys.

A token names the last key a page returned. :func:`page_of` asks its source
only for the items after that key, so a page costs what it returns, not
what is stored; :func:`paginate` pages a small unsorted sequence.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
import bisect
from typing import Callable, Generic, Sequence, TypeVar

from ..errors import InvalidArgumentException

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List operation's results, and the token for the next page (None on the last)."""

    items: list[T]
    next_token: str | None


def encode_token(marker: str, kind: str) -> str:
    raw = json.dumps({"k": kind, "m": marker}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode()


def decode_token(token: str, kind: str) -> str:
    try:
        data = json.loads(base64.b64decode(token.encode(), validate=True))
        if data.get("k") != kind or not isinstance(data.get("m"), str):
            raise ValueError
        return data["m"]
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError):
        raise InvalidArgumentException(f"The NextToken '{token}' is not valid for this request.") from None


def page_of(
    fetch: Callable[[str, int], list[T]],
    key: Callable[[T], str],
    max_results: int,
    next_token: str | None,
    kind: str,
) -> Page[T]:
    """One page from ``fetch(after, count)``, which gives up to ``count`` items whose keys come
    after ``after`` ("" for the first page), in key order; and the token for the next page.

    The token names the last key returned, so items created or deleted between
    calls neither repeat nor get skipped.
    """
    after = decode_token(next_token, kind) if next_token else ""
    found = fetch(after, max_results + 1)
    page = found[:max_results]
    token = encode_token(key(page[-1]), kind) if len(found) > max_results else None
    return Page(page, token)


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    max_results: int,
    next_token: str | None,
    kind: str,
) -> Page[T]:
    """One page of ``items`` (in any order: they are sorted by ``key`` first) and the token for the next."""
    ordered = sorted(items, key=key)
    keys = [key(i) for i in ordered]

    def fetch(after: str, count: int) -> list[T]:
        start = bisect.bisect_right(keys, after) if after else 0
        return ordered[start : start + count]

    return page_of(fetch, key, max_results, next_token, kind)
