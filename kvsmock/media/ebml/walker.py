"""The EBML walker: an incremental, sans-I/O reader of an EBML stream.

Feed it bytes split anywhere (even inside an ID or a size VINT) and pull
typed events (:mod:`~kvsmock.media.ebml.walker_events`): a master element
starts or ends, an element was skipped, a small element was read whole, or a
block header was read. It knows the tree only through a :class:`Schema`
(which IDs to descend into, read, or treat as blocks, and which IDs end an
unknown-size master), so the PutMedia fragmenter and the GetMedia reader
share it.

Bytes are kept in a :class:`~kvsmock.media.ebml.byte_queue.ByteQueue`; the
walker drops what it no longer needs unless the caller asks it to keep data
from some offset (``retain_from``), which is how a whole Cluster is later
taken out as one contiguous ``bytes`` with a single copy. Payloads that are
skipped are never copied or scanned.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

from .blocks import lace_sizes, read_block_header
from .byte_queue import ByteQueue
from .errors import EBMLError, EBMLTruncated
from .ids import ID_NAMES
from .vint import VINT_ALL_ONES as _MASK, VINT_WIDTH as _WIDTH
from .walker_events import BlockHeader, ElementEnd, ElementRead, ElementSkipped, ElementStart, WalkerEvent

__all__ = ["EBMLWalker", "Kind", "Schema"]


class Kind(IntEnum):
    """What the walker does with an element."""

    SKIP = 0  #: report its header, jump over its payload without looking at it
    MASTER = 1  #: descend into its children
    READ = 2  #: buffer it whole and hand it over (small elements only)
    BLOCK = 3  #: read only the block header (track, timecode, flags, lace count), skip the frame


@dataclass(frozen=True)
class Schema:
    """The part of the element tree the walker needs to know.

    ``kinds`` maps element IDs to a :class:`Kind` (unlisted IDs are skipped).
    ``terminators`` lists, for each master that may have an unknown size,
    the IDs that cannot be its children and so end it.
    """

    kinds: dict[int, Kind]
    terminators: dict[int, frozenset[int]] = field(default_factory=dict)


@dataclass(slots=True)
class _Open:
    """A master element the walker is inside."""

    id: int
    offset: int
    end: int | None  # None: unknown size
    bound: int | None  # the nearest known end among this element and its ancestors


_SKIP, _MASTER, _READ, _BLOCK = (int(k) for k in Kind)
_HEAD = 24  # enough for an element header (<=12 bytes) plus a block header (<=12 bytes)


def _name(element_id: int) -> str:
    name = ID_NAMES.get(element_id)
    return f"{name} (0x{element_id:X})" if name else f"0x{element_id:X}"


class EBMLWalker:
    """Walks an EBML stream incrementally: :meth:`feed` bytes, pull events with :meth:`next_event`.

    Raises :class:`~kvsmock.media.ebml.EBMLError` from :meth:`next_event` on
    invalid data: bad VINTs, a child overflowing its parent, an unknown size
    where the schema allows none, a READ element above ``max_read_size``,
    or truncation after :meth:`close`.
    """

    def __init__(self, schema: Schema, *, max_read_size: int = 16 << 20) -> None:
        self._kinds = {element_id: int(kind) for element_id, kind in schema.kinds.items()}
        self._terminators = schema.terminators
        self._max_read = max_read_size
        self._queue = ByteQueue()
        self._pos = 0
        self._stack: list[_Open] = []
        self._closed = False
        #: Keep received bytes from this offset on (``None``: keep only what parsing needs).
        self.retain_from: int | None = None

    @property
    def position(self) -> int:
        """Absolute offset of the next element header to parse."""
        return self._pos

    @property
    def received(self) -> int:
        """Number of bytes fed so far."""
        return self._queue.end

    @property
    def depth(self) -> int:
        return len(self._stack)

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add bytes. Non-``bytes`` input is copied once (the caller may reuse its buffer)."""
        if self._closed:
            raise RuntimeError("feed() after close()")
        if not isinstance(data, bytes):
            data = bytes(data)
        keep = self._pos if self.retain_from is None else min(self._pos, self.retain_from)
        self._queue.release(keep)
        self._queue.append(data)

    def close(self) -> None:
        """No more data: open unknown-size masters end here; anything unfinished is an error."""
        self._closed = True

    def bytes_between(self, start: int, end: int) -> bytes:
        """Received bytes ``[start, end)``; they must still be retained (see ``retain_from``)."""
        return self._queue.get(start, end)

    def pieces_between(self, start: int, end: int) -> list[bytes | memoryview]:
        """:meth:`bytes_between` as the pieces the bytes arrived in, not copied."""
        return self._queue.views(start, end)

    def next_event(self) -> WalkerEvent | None:
        """The next event, or ``None`` when more data is needed (or, after close, when done)."""
        queue = self._queue
        stack = self._stack
        pos = self._pos
        if stack:
            top = stack[-1]
            limit = top.end if top.end is not None else top.bound
            if limit is not None and pos >= limit:
                if limit > queue.end:  # the last child's payload has not all arrived
                    if self._closed:
                        raise EBMLTruncated(
                            f"truncated: {_name(top.id)} ends at offset {limit}, data ends at {queue.end}"
                        )
                    return None
                stack.pop()
                return ElementEnd(top.id, top.offset, limit, len(stack))
        if pos >= queue.end:
            if not self._closed:
                return None
            if pos > queue.end:
                raise EBMLTruncated(f"truncated: an element ends at offset {pos}, data ends at {queue.end}")
            if stack:
                top = stack.pop()
                if top.end is not None:
                    raise EBMLTruncated(f"truncated: {_name(top.id)} ends at offset {top.end}, data ends at {pos}")
                return ElementEnd(top.id, top.offset, pos, len(stack))
            return None
        head = queue.peek(pos, _HEAD)
        # element header, inlined (this is the hot path: once per element)
        available = len(head)
        first = head[0]
        id_width = _WIDTH[first]
        if not id_width or id_width > 4 or first == 0xFF:
            raise EBMLError(f"invalid element ID (first byte 0x{first:02X}) at offset {pos}")
        if available <= id_width:
            if self._closed:
                raise EBMLTruncated(f"truncated element header at offset {pos}")
            return None
        element_id = first if id_width == 1 else int.from_bytes(head[:id_width], "big")
        size_width = _WIDTH[head[id_width]]
        if not size_width:
            raise EBMLError(f"invalid size VINT (first byte 0x00) at offset {pos + id_width}")
        header_size = id_width + size_width
        if available < header_size:
            if self._closed:
                raise EBMLTruncated(f"truncated element header at offset {pos}")
            return None
        if size_width == 1:
            size = head[id_width] & 0x7F
        else:
            size = int.from_bytes(head[id_width:header_size], "big") & _MASK[size_width]
        if stack:
            top = stack[-1]
            if top.end is None and element_id in self._terminators[top.id]:
                stack.pop()
                return ElementEnd(top.id, top.offset, pos, len(stack))
            bound = top.bound
        else:
            bound = None
        kind = self._kinds.get(element_id, _SKIP)
        depth = len(stack)
        if size == _MASK[size_width]:  # unknown size: a master that may have one, ended by a terminator
            if kind != _MASTER or element_id not in self._terminators:
                raise EBMLError(f"{_name(element_id)} at offset {pos} has an unknown size, which it may not")
            stack.append(_Open(element_id, pos, None, bound))
            self._pos = pos + header_size
            return ElementStart(element_id, pos, header_size, None, depth)
        end = pos + header_size + size
        if bound is not None and end > bound:
            raise EBMLError(f"{_name(element_id)} at offset {pos} (size {size}) overflows its parent")
        if kind == _BLOCK:
            need = header_size + min(size, 12)
            if len(head) < need:
                if self._closed:
                    raise EBMLTruncated(f"truncated block at offset {pos}")
                return None
            parsed = read_block_header(head, header_size, header_size + size)
            if parsed is None:
                raise EBMLError(f"invalid block header at offset {pos}")
            track, timecode, flags, p = parsed
            frames = 1
            if flags & 0x06:
                if p + 1 > header_size + size:
                    raise EBMLError(f"invalid laced block at offset {pos}")
                frames = head[p] + 1
                # Laced blocks (audio, mostly small) are checked whole: their lace sizes must fit.
                if not self._arrived("laced block", pos, size, end):
                    return None
                block = queue.get(pos + header_size, end)
                try:
                    lace_sizes(memoryview(block), p - header_size, flags & 0x06)
                except (EBMLError, IndexError):
                    raise EBMLError(f"invalid lacing in the block at offset {pos}") from None
            self._pos = end
            return BlockHeader(
                element_id,
                pos,
                header_size,
                size,
                depth,
                track,
                timecode,
                flags,
                frames,
            )
        if kind == _SKIP:
            self._pos = end
            return ElementSkipped(element_id, pos, header_size, size, depth)
        if kind == _MASTER:
            stack.append(_Open(element_id, pos, end, end))
            self._pos = pos + header_size
            return ElementStart(element_id, pos, header_size, size, depth)
        # Kind.READ
        if not self._arrived(element_id, pos, size, end):
            return None
        self._pos = end
        return ElementRead(element_id, pos, header_size, queue.get(pos, end), depth)

    def _arrived(self, element: int | str, pos: int, size: int, end: int) -> bool:
        """Whether an element to be read whole (``size`` bytes of payload, ending at ``end``) has all arrived.

        Raises :class:`EBMLError` when it is larger than ``max_read_size``, and
        :class:`EBMLTruncated` when the data ended before it did. ``element``
        (an ID, or what to call it) names it in those errors.
        """
        if size <= self._max_read and self._queue.end >= end:
            return True
        what = _name(element) if isinstance(element, int) else element
        if size > self._max_read:
            raise EBMLError(f"{what} at offset {pos} is too large ({size} bytes)")
        if self._queue.end < end:
            if self._closed:
                raise EBMLTruncated(
                    f"truncated: {what} at offset {pos} ends at offset {end}, data ends at {self._queue.end}"
                )
            return False
        return True
