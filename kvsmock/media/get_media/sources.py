"""Where :func:`~kvsmock.media.get_media.reader.read_fragments` gets its bytes: pieces of any source.

Bytes, a path, a binary file, anything with ``.read(n)`` (a botocore
``StreamingBody`` included), or an iterable of bytes. A live source is read
with whatever has arrived (``read1``), never waiting for a full piece, so a
fragment can be handed out as soon as its last byte is in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = ["pieces"]


def _read_available(source: Any) -> Callable[[int], bytes]:
    """A ``read(n)`` of ``source`` that returns what has arrived (1 to n bytes; b"" at the end).

    A botocore ``StreamingBody.read(n)`` (and urllib3's ``read(n)``) wait
    for all n bytes, which would hold back a fragment that has arrived until
    more of the next one comes; ``read1`` returns after one read of the
    connection. Other sources are read with their ``read(n)``, which may
    return short reads.
    """
    raw = getattr(source, "_raw_stream", None)  # botocore StreamingBody: the urllib3 response inside
    if raw is not None and callable(getattr(raw, "read1", None)):
        return _StreamingBodyRead1(source, raw)
    read1 = getattr(source, "read1", None)
    if callable(read1):
        return read1
    return source.read


class _StreamingBodyRead1:
    """``read1`` for a botocore ``StreamingBody``, raising botocore's errors as its ``read`` does."""

    def __init__(self, body, raw) -> None:
        self._body = body
        self._raw = raw

    def __call__(self, n: int) -> bytes:
        try:
            piece = self._raw.read1(n)
        except Exception as exc:
            converted = _botocore_error(exc)
            if converted is None:
                raise
            raise converted from exc
        if piece is None:
            return b""
        if isinstance(getattr(self._body, "_amount_read", None), int):
            self._body._amount_read += len(piece)  # keeps StreamingBody's length check right
        return piece


def _botocore_error(exc: Exception) -> Exception | None:
    """The botocore exception ``StreamingBody.read`` raises for a urllib3 error, if any."""
    try:
        from botocore.exceptions import ReadTimeoutError, ResponseStreamingError
        from urllib3.exceptions import ProtocolError
        from urllib3.exceptions import ReadTimeoutError as Urllib3ReadTimeoutError
    except ImportError:  # pragma: no cover - botocore always brings urllib3
        return None
    if isinstance(exc, Urllib3ReadTimeoutError):
        return ReadTimeoutError(endpoint_url=exc.url, error=exc)
    if isinstance(exc, ProtocolError):
        return ResponseStreamingError(error=exc)
    return None


def pieces(source: Any, read_size: int) -> Iterator[bytes]:
    """The bytes of ``source`` in pieces of at most ``read_size`` (see the module docstring)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
        return
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            yield from pieces(file, read_size)
        return
    if getattr(source, "read", None) is not None:
        read = _read_available(source)
        while True:
            piece = read(read_size)
            if not piece:
                return
            yield piece
        return
    if isinstance(source, Iterable):
        yield from source
        return
    raise TypeError(f"cannot read fragments from {type(source).__name__}")
