"""EBML, the binary format under Matroska: element IDs, VINTs, reading, writing, blocks, the walker.

``from kvsmock.media import ebml`` gives one namespace for the byte level:
the element IDs (:mod:`.ids`), the VINT codec (:mod:`.vint`), reading
buffered elements (:mod:`.reading`), writing elements (:mod:`.writing`) and
block headers and lacing (:mod:`.blocks`). The incremental reader of a
stream split anywhere is :class:`~kvsmock.media.ebml.walker.EBMLWalker`.
"""

from __future__ import annotations

from . import ids
from .blocks import lace_sizes, read_block_header
from .errors import EBMLError, EBMLTruncated
from .ids import *  # noqa: F403 - the element IDs are this namespace's vocabulary
from .reading import decode_float, decode_int, decode_string, decode_uint, iter_elements, read_element_header
from .vint import VINT_ALL_ONES, VINT_WIDTH, encode_id, encode_size, encode_vint, read_id, read_vint
from .writing import (
    UNKNOWN_SIZE_SEGMENT_HEADER,
    ebml_header,
    element,
    element_header,
    float_element,
    int_element,
    kvs_tags,
    master_element,
    string_element,
    tags_element,
    uint_element,
    unknown_size_header,
)

__all__ = [
    *ids.__all__,
    "EBMLError",
    "EBMLTruncated",
    "UNKNOWN_SIZE_SEGMENT_HEADER",
    "VINT_ALL_ONES",
    "VINT_WIDTH",
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
    "lace_sizes",
    "master_element",
    "read_block_header",
    "read_element_header",
    "read_id",
    "read_vint",
    "string_element",
    "tags_element",
    "uint_element",
    "unknown_size_header",
]
