"""Reading a request body as it arrives, chunked uploads chunk by chunk.

werkzeug's own de-chunking stream fills its whole read buffer before
returning, which would hold the last bytes of a PutMedia fragment until more
data came; a chunked body is therefore read here from the socket file under
it, each chunk yielded as soon as the client has sent it. Chunk extensions
(``3;name=value``) are ignored and trailers skipped (RFC 9112 7.1).
"""

from __future__ import annotations

from typing import Any, Iterable

from werkzeug.serving import DechunkedInput
from werkzeug.wrappers import Request

#: The largest piece yielded at once.
PIECE_SIZE = 64 * 1024


def body_pieces(request: Request, size: int = PIECE_SIZE) -> Iterable[bytes]:
    """The request body as it arrives, in pieces of at most ``size`` bytes."""
    raw = request.environ.get("wsgi.input")
    if isinstance(raw, DechunkedInput):
        yield from _chunks(raw, size)
        return
    stream = request.stream
    while True:
        piece = stream.read(size)
        if not piece:
            return
        yield piece


def _chunk_size(rfile: Any) -> int:
    """The size on a chunk's header line, its extensions (``3;name=value``) ignored (RFC 9112 7.1.1)."""
    line = rfile.readline(4096)
    if not line.endswith(b"\n"):
        raise OSError("the connection closed in a chunk header, or the header is too long")
    size = line.split(b";", 1)[0].strip(b" \t\r\n")
    try:
        value = int(size, 16)
    except ValueError:
        raise OSError(f"invalid chunk header {line[:40]!r}") from None
    if value < 0 or not size.isalnum():
        raise OSError(f"invalid chunk header {line[:40]!r}")
    return value


def _chunks(dechunked: DechunkedInput, size: int) -> Iterable[bytes]:
    rfile = dechunked._rfile  # the socket file under werkzeug's dev-server de-chunker
    while True:
        remaining = _chunk_size(rfile)
        if remaining == 0:
            while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers, then the final CRLF
            return
        while remaining > 0:
            piece = rfile.read(min(remaining, size))  # the client has sent this chunk: no wait beyond it
            if not piece:
                raise OSError("the connection closed inside a chunk")
            remaining -= len(piece)
            yield piece
        rfile.readline(16)  # the CRLF closing the chunk
