"""Writing EBML: elements from values, and the few whole elements kvsmock writes.

Each function returns the complete bytes of an element (ID, size, payload);
a master's payload is its already-encoded children. Besides the typed
element builders: the EBML header, the unknown-size Segment header GetMedia
chunks start with, and the Tags element of producers and of the service.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from . import ids
from .vint import encode_id, encode_size, encode_vint, unknown_size_marker

__all__ = [
    "UNKNOWN_SIZE_SEGMENT_HEADER",
    "ebml_header",
    "element",
    "element_header",
    "float_element",
    "int_element",
    "kvs_tags",
    "master_element",
    "string_element",
    "tags_element",
    "uint_element",
    "unknown_size_header",
]

#: The unknown-size Segment header GetMedia chunks start with (after the EBML header).
UNKNOWN_SIZE_SEGMENT_HEADER = b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff"


def element_header(element_id: int, size: int | None, size_width: int | None = None) -> bytes:
    """The ID and size of an element whose payload is written separately."""
    return encode_id(element_id) + encode_size(size, size_width)


def unknown_size_header(element_id: int, width: int = 8) -> bytes:
    """Header of an unknown-size element (e.g. a streamed Cluster, width 1 gives ``0xFF``)."""
    return encode_id(element_id) + unknown_size_marker(width)


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
        ids.EBML,
        [
            uint_element(ids.EBML_VERSION, 1),
            uint_element(ids.EBML_READ_VERSION, 1),
            uint_element(ids.EBML_MAX_ID_LENGTH, 4),
            uint_element(ids.EBML_MAX_SIZE_LENGTH, 8),
            string_element(ids.DOC_TYPE, doc_type),
            uint_element(ids.DOC_TYPE_VERSION, doc_type_version),
            uint_element(ids.DOC_TYPE_READ_VERSION, doc_type_read_version),
        ],
    )


def tags_element(pairs: Iterable[tuple[str, str]], size_width: int | None = None) -> bytes:
    """A Tags element: one Tag (no Targets) holding one SimpleTag (TagName, TagString) per pair.

    ``size_width`` sets the size width of every element in it: ``8``
    reproduces the C producer SDK's layout (which writes one Tags element per
    tag), ``4`` the service's (see :func:`kvs_tags`).
    """
    simple_tags = [
        element(
            ids.SIMPLE_TAG,
            element(ids.TAG_NAME, name.encode("utf-8"), size_width)
            + element(ids.TAG_STRING, value.encode("utf-8"), size_width),
            size_width,
        )
        for name, value in pairs
    ]
    return element(ids.TAGS, element(ids.TAG, b"".join(simple_tags), size_width), size_width)


def kvs_tags(pairs: Iterable[tuple[str, str]]) -> bytes:
    """A Tags element as the KVS service writes it into GetMedia chunks.

    Every Tags/Tag/SimpleTag/TagName/TagString size is a 4-byte VINT
    (``0x10 xx xx xx``), byte for byte like the real service.
    """
    return tags_element(pairs, size_width=4)
