"""Reading a request body as it arrives, chunked uploads chunk by chunk.

werkzeug's own de-chunking stream fills its whole read buffer before
returning, which would hold the last bytes of a PutMedia fragment until more
data came; a chunked body is therefore read here from the socket file under
it, what has arrived of each chunk yielded as soon as the client has sent it
(decoded by :class:`~.chunked_body.ChunkedBody`).
"""

from __future__ import annotations

from io import BufferedReader
from typing import Iterable

from werkzeug.serving import DechunkedInput
from werkzeug.wrappers import Request

from .chunked_body import ChunkedBody

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


def _chunks(dechunked: DechunkedInput, size: int) -> Iterable[bytes]:
    rfile: BufferedReader = dechunked._rfile  # type: ignore[assignment]  # the socket file under werkzeug's de-chunker
    body = ChunkedBody()
    while not body.done:
        data = rfile.read1(size)  # what the client has sent: no wait beyond it
        if not data:
            if body.ends_at_close():
                return
            raise OSError("the connection closed inside the body")
        yield from body.feed(data)
        if body.error is not None:
            raise OSError(str(body.error))
