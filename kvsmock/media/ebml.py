"""EBML primitives: variable-length integers, element IDs, and an element writer.

EBML (the binary format under Matroska/WebM) is a tree of elements, each an
ID, a size and a payload. IDs and sizes are VINTs: the number of leading zero
bits of the first byte gives the width (1-8 bytes). An ID keeps its marker
bit (``0x1A45DFA3``); a size drops it, and a size whose value bits are all
ones means "unknown size" (streamed Segments and Clusters use this).

This module only knows bytes. The incremental reader lives in
:mod:`kvsmock.media.walker`; Matroska-level parsing in
:mod:`kvsmock.media.matroska`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

__all__ = [
    "EBMLError",
    "EBMLTruncated",
    "UNKNOWN_SIZE_SEGMENT_HEADER",
    "decode_float",
    "decode_int",
    "decode_string",
    "decode_uint",
    "ebml_header",
    "element",
    "element_header",
    "encode_id",
    "encode_size",
    "encode_vint",
    "float_element",
    "int_element",
    "iter_elements",
    "kvs_tags",
    "master_element",
    "read_element_header",
    "read_id",
    "read_vint",
    "string_element",
    "uint_element",
    "unknown_size_header",
]


class EBMLError(ValueError):
    """The bytes are not valid EBML (bad VINT, size overflowing its parent, truncation)."""


class EBMLTruncated(EBMLError):
    """The data ended in the middle of an element."""


# ---------------------------------------------------------------- element IDs
# EBML header and its children
EBML = 0x1A45DFA3
EBML_VERSION = 0x4286
EBML_READ_VERSION = 0x42F7
EBML_MAX_ID_LENGTH = 0x42F2
EBML_MAX_SIZE_LENGTH = 0x42F3
DOC_TYPE = 0x4282
DOC_TYPE_VERSION = 0x4287
DOC_TYPE_READ_VERSION = 0x4285
# global elements, allowed anywhere
VOID = 0xEC
CRC32 = 0xBF
# Segment and its top-level children
SEGMENT = 0x18538067
SEEK_HEAD = 0x114D9B74
SEEK = 0x4DBB
SEEK_ID = 0x53AB
SEEK_POSITION = 0x53AC
INFO = 0x1549A966
TRACKS = 0x1654AE6B
CLUSTER = 0x1F43B675
CUES = 0x1C53BB6B
CHAPTERS = 0x1043A770
ATTACHMENTS = 0x1941A469
TAGS = 0x1254C367
# Info children
SEGMENT_UID = 0x73A4
TIMECODE_SCALE = 0x2AD7B1
DURATION = 0x4489  # float
DATE_UTC = 0x4461
TITLE = 0x7BA9
MUXING_APP = 0x4D80
WRITING_APP = 0x5741
# Tracks children
TRACK_ENTRY = 0xAE
TRACK_NUMBER = 0xD7
TRACK_UID = 0x73C5
TRACK_TYPE = 0x83
FLAG_LACING = 0x9C
DEFAULT_DURATION = 0x23E383
TRACK_NAME = 0x536E
LANGUAGE = 0x22B59C
CODEC_ID = 0x86
CODEC_PRIVATE = 0x63A2
CODEC_NAME = 0x258688
CODEC_DELAY = 0x56AA
SEEK_PRE_ROLL = 0x56BB
VIDEO = 0xE0
PIXEL_WIDTH = 0xB0
PIXEL_HEIGHT = 0xBA
AUDIO = 0xE1
SAMPLING_FREQUENCY = 0xB5  # float
CHANNELS = 0x9F
BIT_DEPTH = 0x6264
# Cluster children
TIMECODE = 0xE7
POSITION = 0xA7
PREV_SIZE = 0xAB
SILENT_TRACKS = 0x5854
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
ENCRYPTED_BLOCK = 0xAF
# BlockGroup children
BLOCK = 0xA1
BLOCK_DURATION = 0x9B
REFERENCE_BLOCK = 0xFB
BLOCK_ADDITIONS = 0x75A1
DISCARD_PADDING = 0x75A2
# Tags children
TAG = 0x7373
TARGETS = 0x63C0
SIMPLE_TAG = 0x67C8
TAG_NAME = 0x45A3
TAG_LANGUAGE = 0x447A
TAG_DEFAULT = 0x4484
TAG_STRING = 0x4487
TAG_BINARY = 0x4485

#: Human-readable names, for error messages and debugging dumps.
ID_NAMES: dict[int, str] = {
    value: name
    for name, value in list(globals().items())
    if name.isupper() and isinstance(value, int) and not name.startswith("_")
}

#: Track types (TrackType element values).
TRACK_TYPE_VIDEO = 1
TRACK_TYPE_AUDIO = 2

# ---------------------------------------------------------------- reading
#: VINT_WIDTH[b]: width of a VINT whose first byte is b (0: invalid, it would be wider than 8 bytes).
VINT_WIDTH = bytes([0] + [8 - b.bit_length() + 1 for b in range(1, 256)])
#: VINT_ALL_ONES[w]: the value mask of a width-w VINT, which as a size means "unknown".
VINT_ALL_ONES = [0] + [(1 << (7 * w)) - 1 for w in range(1, 9)]
_WIDTH = VINT_WIDTH
_UNKNOWN = _MASK = VINT_ALL_ONES


def read_vint(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int | None, int] | None:
    """Read a size VINT at ``buf[pos]``.

    Returns ``(value, width)``, with value ``None`` for an unknown size (all
    value bits set, any width), or ``None`` when ``buf`` ends before the VINT
    does. Raises :class:`EBMLError` on a first byte of ``0x00``.
    """
    if pos >= len(buf):
        return None
    width = _WIDTH[buf[pos]]
    if not width:
        raise EBMLError(f"invalid VINT (first byte 0x00) at offset {pos}")
    if pos + width > len(buf):
        return None
    if width == 1:
        value = buf[pos] & 0x7F
    else:
        value = int.from_bytes(buf[pos : pos + width], "big") & _MASK[width]
    if value == _UNKNOWN[width]:
        return None, width
    return value, width


def read_id(buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[int, int] | None:
    """Read an element ID (marker bits kept) at ``buf[pos]``: ``(id, width)`` or ``None`` if incomplete.

    Matroska limits IDs to 4 bytes (EBMLMaxIDLength); longer ones raise :class:`EBMLError`.
    """
    if pos >= len(buf):
        return None
    first = buf[pos]
    width = _WIDTH[first]
    if not width or width > 4:
        raise EBMLError(f"invalid element ID (first byte 0x{first:02X}) at offset {pos}")
    if pos + width > len(buf):
        return None
    if width == 1:
        if first == 0xFF:
            raise EBMLError(f"reserved element ID 0xFF at offset {pos}")
        return first, 1
    return int.from_bytes(buf[pos : pos + width], "big"), width


def read_element_header(
    buf: bytes | bytearray | memoryview, pos: int = 0
) -> tuple[int, int | None, int] | None:
    """Read an element header: ``(id, size or None if unknown, header length)``, or ``None`` if incomplete."""
    got = read_id(buf, pos)
    if got is None:
        return None
    element_id, id_width = got
    size = read_vint(buf, pos + id_width)
    if size is None:
        return None
    return element_id, size[0], id_width + size[1]


def iter_elements(
    buf: bytes | bytearray | memoryview, start: int = 0, end: int | None = None
) -> Iterator[tuple[int, int, int]]:
    """Iterate the children of a fully buffered master payload ``buf[start:end]``.

    Yields ``(id, payload_start, payload_end)`` offsets into ``buf``. Raises
    :class:`EBMLError` on truncation, unknown sizes, or a child overflowing ``end``.
    """
    if end is None:
        end = len(buf)
    pos = start
    while pos < end:
        header = read_element_header(buf, pos)
        if header is None:
            raise EBMLError(f"truncated element header at offset {pos}")
        element_id, size, header_len = header
        if size is None:
            raise EBMLError(f"unknown-size element 0x{element_id:X} inside a sized parent at offset {pos}")
        payload = pos + header_len
        pos = payload + size
        if pos > end:
            raise EBMLError(f"element 0x{element_id:X} at offset {payload - header_len} overflows its parent")
        yield element_id, payload, pos


def decode_uint(data: bytes | memoryview) -> int:
    """An unsigned integer payload (0-8 bytes, big-endian)."""
    return int.from_bytes(data, "big")


def decode_int(data: bytes | memoryview) -> int:
    """A signed integer payload (0-8 bytes, big-endian two's complement)."""
    return int.from_bytes(data, "big", signed=True)


def decode_float(data: bytes | memoryview) -> float:
    """A float payload (0, 4 or 8 bytes)."""
    if len(data) == 0:
        return 0.0
    if len(data) == 4:
        return struct.unpack(">f", data)[0]
    if len(data) == 8:
        return struct.unpack(">d", data)[0]
    raise EBMLError(f"float element of {len(data)} bytes")


def decode_string(data: bytes | memoryview) -> str:
    """A String/UTF-8 payload with trailing NULs stripped (producer SDKs NUL-pad)."""
    return bytes(data).rstrip(b"\x00").decode("utf-8", errors="replace")


# ---------------------------------------------------------------- writing


def encode_vint(value: int, width: int | None = None) -> bytes:
    """Encode ``value`` as a size VINT, minimal width unless ``width`` (1-8) is given.

    The all-ones value of a width is reserved for "unknown", so the minimal
    width is the smallest that holds ``value`` below that marker.
    """
    if value < 0:
        raise ValueError("VINT values are unsigned")
    if width is None:
        width = 1
        while value >= _UNKNOWN[width]:
            width += 1
            if width > 8:
                raise ValueError(f"{value} does not fit in an 8-byte VINT")
    elif not 1 <= width <= 8 or value >= _UNKNOWN[width]:
        raise ValueError(f"{value} does not fit in a {width}-byte VINT")
    return ((1 << (7 * width)) | value).to_bytes(width, "big")


def encode_size(size: int | None, width: int | None = None) -> bytes:
    """Encode an element size; ``None`` gives the unknown-size marker (8 bytes unless ``width``)."""
    if size is None:
        return _unknown_marker(width or 8)
    return encode_vint(size, width)


def _unknown_marker(width: int) -> bytes:
    if not 1 <= width <= 8:
        raise ValueError("VINT width must be 1-8")
    return ((1 << (7 * width)) | _UNKNOWN[width]).to_bytes(width, "big")


def encode_id(element_id: int) -> bytes:
    """Encode an element ID (which already carries its marker bit)."""
    return element_id.to_bytes(max(1, (element_id.bit_length() + 7) // 8), "big")


def element_header(element_id: int, size: int | None, size_width: int | None = None) -> bytes:
    """The ID and size of an element whose payload is written separately."""
    return encode_id(element_id) + encode_size(size, size_width)


def unknown_size_header(element_id: int, width: int = 8) -> bytes:
    """Header of an unknown-size element (e.g. a streamed Cluster, width 1 gives ``0xFF``)."""
    return encode_id(element_id) + _unknown_marker(width)


#: The unknown-size Segment header GetMedia chunks start with (after the EBML header).
UNKNOWN_SIZE_SEGMENT_HEADER = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"


def element(element_id: int, payload: bytes, size_width: int | None = None) -> bytes:
    """A complete element: header plus ``payload`` (binary elements, or pre-encoded children)."""
    return encode_id(element_id) + encode_vint(len(payload), size_width) + payload


def master_element(element_id: int, children: Iterable[bytes], size_width: int | None = None) -> bytes:
    """A master element whose payload is the concatenation of already-encoded ``children``."""
    return element(element_id, b"".join(children), size_width)


def uint_element(element_id: int, value: int, size_width: int | None = None, width: int | None = None) -> bytes:
    """An unsigned integer element, minimal payload width unless ``width`` is given."""
    if width is None:
        width = max(1, (value.bit_length() + 7) // 8)
    return element(element_id, value.to_bytes(width, "big"), size_width)


def int_element(element_id: int, value: int, size_width: int | None = None) -> bytes:
    """A signed integer element with a minimal payload."""
    width = 1
    while not -(1 << (8 * width - 1)) <= value < (1 << (8 * width - 1)):
        width += 1
    return element(element_id, value.to_bytes(width, "big", signed=True), size_width)


def float_element(element_id: int, value: float, width: int = 8, size_width: int | None = None) -> bytes:
    """A float element, 8-byte double by default (4 for single precision)."""
    return element(element_id, struct.pack(">d" if width == 8 else ">f", value), size_width)


def string_element(element_id: int, text: str, size_width: int | None = None) -> bytes:
    """A String/UTF-8 element (no NUL padding)."""
    return element(element_id, text.encode("utf-8"), size_width)


def ebml_header(doc_type: str = "matroska", doc_type_version: int = 4, doc_type_read_version: int = 2) -> bytes:
    """A complete EBML header element announcing ``doc_type``."""
    return master_element(
        EBML,
        [
            uint_element(EBML_VERSION, 1),
            uint_element(EBML_READ_VERSION, 1),
            uint_element(EBML_MAX_ID_LENGTH, 4),
            uint_element(EBML_MAX_SIZE_LENGTH, 8),
            string_element(DOC_TYPE, doc_type),
            uint_element(DOC_TYPE_VERSION, doc_type_version),
            uint_element(DOC_TYPE_READ_VERSION, doc_type_read_version),
        ],
    )


def kvs_tags(pairs: Iterable[tuple[str, str]]) -> bytes:
    """A Tags element as the KVS service writes it into GetMedia chunks.

    One Tags holding one Tag holding one SimpleTag per ``(name, value)`` pair,
    no Targets, and every Tags/Tag/SimpleTag/TagName/TagString size written
    as a 4-byte VINT (``0x10 xx xx xx``), byte for byte like the real service.
    """
    simple_tags = [
        element(
            SIMPLE_TAG,
            element(TAG_NAME, name.encode("utf-8"), 4) + element(TAG_STRING, value.encode("utf-8"), 4),
            4,
        )
        for name, value in pairs
    ]
    return element(TAGS, element(TAG, b"".join(simple_tags), 4), 4)


#: Elements that end an unknown-size Cluster: none of them can be a Cluster child.
CLUSTER_ENDERS = frozenset(
    {
        CLUSTER,
        TAGS,
        CUES,
        SEEK_HEAD,
        INFO,
        TRACKS,
        CHAPTERS,
        ATTACHMENTS,
        EBML,
        SEGMENT,
    }
)


def lace_sizes(block, p: int, lacing: int) -> tuple[list[int], int]:
    """Frame sizes of a laced block whose lace count byte is at ``p``; returns them and the data start."""
    if p >= len(block):
        raise EBMLError("laced block without a lace count")
    count = block[p] + 1
    p += 1
    sizes: list[int] = []
    if lacing == 0x02:  # Xiph
        for _ in range(count - 1):
            size = 0
            while True:
                if p >= len(block):
                    raise EBMLError("invalid Xiph lacing")
                byte = block[p]
                p += 1
                size += byte
                if byte != 255:
                    break
            sizes.append(size)
    elif lacing == 0x06:  # EBML
        got = read_vint(block, p)
        if got is None or got[0] is None:
            raise EBMLError("invalid EBML lacing")
        sizes.append(got[0])
        p += got[1]
        for _ in range(count - 2):
            got = read_vint(block, p)
            if got is None or got[0] is None:
                raise EBMLError("invalid EBML lacing")
            width = got[1]
            sizes.append(sizes[-1] + got[0] - ((1 << (7 * width - 1)) - 1))
            p += width
    else:  # fixed
        each = (len(block) - p) // count
        return [each] * count, p
    last = len(block) - p - sum(sizes)
    if last < 0 or any(size < 0 for size in sizes):
        raise EBMLError("invalid lacing sizes")
    sizes.append(last)
    return sizes, p
