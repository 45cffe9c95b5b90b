"""A chunked request body (RFC 9112 7.1) decoded from whatever bytes have arrived: a sans-I/O machine.

Fed the bytes read from a connection, as they come and however they are
cut, :class:`ChunkedBody` returns the body's data in them at once (a chunk
is not waited for whole) and says when the body has ended. Chunk extensions
(``3;name=value``) are ignored and trailers skipped; a size line longer than
:data:`MAX_SIZE_LINE` or a size that is not hexadecimal is an error
(:attr:`ChunkedBody.error`), after the data that came before it. It reads no
socket and keeps nothing but the state of the line it is in.
"""

from __future__ import annotations

__all__ = ["ChunkedBody", "ChunkedBodyError", "MAX_SIZE_LINE"]

#: The longest chunk size line taken (with its extensions).
MAX_SIZE_LINE = 4096
#: Bytes looked at for the line end that closes a chunk's data (CRLF; anything else there is skipped).
_DATA_END = 16

_HEX_DIGITS = b"0123456789abcdefABCDEF"

_SIZE, _DATA, _DATA_END_LINE, _TRAILERS, _DONE, _FAILED = range(6)


class ChunkedBodyError(ValueError):
    """The bytes are not a chunked body."""


class ChunkedBody:
    """The decoder of one chunked body: :meth:`feed` it bytes, take the data it returns."""

    __slots__ = ("_state", "_line", "_remaining", "_skipped", "error")

    def __init__(self) -> None:
        self._state = _SIZE
        self._line = bytearray()  # the size or trailer line so far
        self._remaining = 0  # bytes of the current chunk's data still to come
        self._skipped = 0  # bytes of the line that closes the current chunk's data, so far
        #: Why the bytes are not a chunked body (nothing after it is data), once they are found not to be.
        self.error: ChunkedBodyError | None = None

    @property
    def done(self) -> bool:
        """The body has ended (its last chunk and trailers were read); more bytes are not part of it."""
        return self._state == _DONE

    def ends_at_close(self) -> bool:
        """Whether the connection closing here ends the body (in its trailers), rather than cuts it; if so it is
        done now."""
        if self._state == _TRAILERS:
            self._state = _DONE
        return self._state == _DONE

    def feed(self, data: bytes) -> list[bytes]:
        """The body's data in ``data`` (the next bytes read), in pieces: up to the end of the body, or up to
        bytes that are not a chunked body (then :attr:`error` says why)."""
        pieces: list[bytes] = []
        try:
            self._feed(data, pieces)
        except ChunkedBodyError as exc:
            self.error, self._state = exc, _FAILED
        return pieces

    def _feed(self, data: bytes, pieces: list[bytes]) -> None:
        pos, end = 0, len(data)
        while pos < end and self._state not in (_DONE, _FAILED):
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                pieces.append(data[pos:pos + take] if take < end or pos else data)
                pos += take
                self._remaining -= take
                if not self._remaining:
                    self._state, self._skipped = _DATA_END_LINE, 0
            elif state == _DATA_END_LINE:
                stop = min(end, pos + _DATA_END - self._skipped)
                newline = data.find(b"\n", pos, stop)
                if newline < 0:
                    self._skipped += stop - pos
                    pos = stop
                    if self._skipped >= _DATA_END:
                        self._state = _SIZE
                else:
                    pos = newline + 1
                    self._state = _SIZE
            else:  # a size line or a trailer line
                newline = data.find(b"\n", pos)
                stop = end if newline < 0 else newline + 1
                self._line += data[pos:stop]
                pos = stop
                if state == _SIZE and len(self._line) > MAX_SIZE_LINE:
                    raise ChunkedBodyError("a chunk size line is too long")
                if newline >= 0:
                    line, self._line = bytes(self._line), bytearray()
                    if state == _SIZE:
                        self._begin_chunk(line)
                    elif line in (b"\r\n", b"\n"):
                        self._state = _DONE

    def _begin_chunk(self, line: bytes) -> None:
        size = line.split(b";", 1)[0].strip(b" \t\r\n")
        if not size or size.lstrip(_HEX_DIGITS):
            raise ChunkedBodyError(f"invalid chunk header {line[:40]!r}")
        value = int(size, 16)
        if value:
            self._state, self._remaining = _DATA, value
        else:
            self._state = _TRAILERS
