"""Opaque NextToken pagination over sorted keys."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
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


def paginate(
    items: Sequence[T],
    key: Callable[[T], str],
    max_results: int,
    next_token: str | None,
    kind: str,
) -> Page[T]:
    """One page of ``items`` (sorted by ``key``) and the token for the next.

    The token names the last key returned, so items created or deleted between
    calls neither repeat nor get skipped.
    """
    ordered = sorted(items, key=key)
    if next_token:
        after = decode_token(next_token, kind)
        ordered = [i for i in ordered if key(i) > after]
    page = ordered[:max_results]
    token = encode_token(key(page[-1]), kind) if len(ordered) > max_results else None
    return Page(page, token)
