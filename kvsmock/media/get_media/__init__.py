"""GetMedia's media side: the chunks the service sends, and the consumer parser that reads them back.

:mod:`.chunks` lays a stored fragment out as a GetMedia chunk;
:mod:`.reader` (:func:`~.reader.read_fragments`) parses such output, fed
from any byte source (:mod:`.sources`).
"""

from __future__ import annotations

from .chunks import DEFAULT_EBML_HEADER, chunk_pieces, error_chunk_pieces, format_timestamp, fragment_chunk_pieces
from .reader import Frame, FragmentReader, ReadFragment, read_fragments

__all__ = [
    "DEFAULT_EBML_HEADER",
    "Frame",
    "FragmentReader",
    "ReadFragment",
    "chunk_pieces",
    "error_chunk_pieces",
    "format_timestamp",
    "fragment_chunk_pieces",
    "read_fragments",
]
