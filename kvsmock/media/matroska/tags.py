"""Matroska Tags as KVS uses them: the reserved tag names and a SimpleTag parser.

KVS carries fragment metadata in ``Tags/Tag/SimpleTag`` elements: the
producer's own metadata (between clusters) and the service's own tags in
GetMedia chunks (fragment number, timestamps, continuation token, errors).
The Tags element is written by :func:`kvsmock.media.ebml.writing.tags_element`
(:func:`~kvsmock.media.ebml.writing.kvs_tags` for the service's layout).
"""

from __future__ import annotations

from ..ebml import ids
from ..ebml.reading import decode_string, iter_elements

__all__ = [
    "CONTINUATION_TOKEN",
    "END_OF_FRAGMENT",
    "ERROR_CODE",
    "ERROR_ID",
    "FRAGMENT_NUMBER",
    "MILLIS_BEHIND_NOW",
    "PRODUCER_TIMESTAMP",
    "SERVER_TIMESTAMP",
    "TagValue",
    "parse_tags",
]

FRAGMENT_NUMBER = "AWS_KINESISVIDEO_FRAGMENT_NUMBER"
SERVER_TIMESTAMP = "AWS_KINESISVIDEO_SERVER_TIMESTAMP"
PRODUCER_TIMESTAMP = "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP"
MILLIS_BEHIND_NOW = "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW"
CONTINUATION_TOKEN = "AWS_KINESISVIDEO_CONTINUATION_TOKEN"
ERROR_CODE = "AWS_KINESISVIDEO_ERROR_CODE"
ERROR_ID = "AWS_KINESISVIDEO_ERROR_ID"
#: The marker the official producer SDK (PIC) writes after every fragment.
END_OF_FRAGMENT = "AWS_KINESISVIDEO_END_OF_FRAGMENT"

#: A tag value: TagString as text, TagBinary as bytes.
TagValue = str | bytes


def parse_tags(payload: bytes | memoryview) -> list[tuple[str, TagValue]]:
    """The ``(name, value)`` of every SimpleTag in a Tags payload, nested ones included, in order.

    TagString values are text with trailing NULs stripped; TagBinary values
    are bytes; a SimpleTag without a value gives ``""``.
    """
    pairs: list[tuple[str, TagValue]] = []
    for element_id, start, end in iter_elements(payload):
        if element_id == ids.TAG:
            for child_id, s, e in iter_elements(payload, start, end):
                if child_id == ids.SIMPLE_TAG:
                    _simple_tag(payload, s, e, pairs)
    return pairs


def _simple_tag(buf: bytes | memoryview, start: int, end: int, out: list[tuple[str, TagValue]]) -> None:
    name: str = ""
    value: TagValue = ""
    nested: list[tuple[int, int]] = []
    for element_id, s, e in iter_elements(buf, start, end):
        if element_id == ids.TAG_NAME:
            name = decode_string(buf[s:e])
        elif element_id == ids.TAG_STRING:
            value = decode_string(buf[s:e])
        elif element_id == ids.TAG_BINARY:
            value = bytes(buf[s:e])
        elif element_id == ids.SIMPLE_TAG:
            nested.append((s, e))
    out.append((name, value))
    for s, e in nested:
        _simple_tag(buf, s, e, out)
