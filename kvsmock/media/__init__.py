"""The media layer: EBML/Matroska reading and writing, PutMedia fragmenting, GetMedia chunks.

It knows nothing of AWS or HTTP; it works on bytes and yields bytes or typed
events. Parsers are sans-I/O (feed bytes, pull events), like h11.
"""

from .chunks import chunk_pieces, error_chunk_pieces, format_timestamp, fragment_chunk_pieces
from .ebml import EBMLError, kvs_tags
from .fragmenter import (
    ErrorId,
    Fragment,
    FragmentComplete,
    Fragmenter,
    FragmentStarted,
    FragmentTags,
    HeaderParsed,
    MediaError,
)
from .matroska import TrackInfo
from .reader import Frame, FragmentReader, ReadFragment, read_fragments

__all__ = [
    "EBMLError",
    "ErrorId",
    "Fragment",
    "FragmentComplete",
    "FragmentReader",
    "FragmentStarted",
    "FragmentTags",
    "Fragmenter",
    "Frame",
    "HeaderParsed",
    "MediaError",
    "ReadFragment",
    "TrackInfo",
    "chunk_pieces",
    "error_chunk_pieces",
    "format_timestamp",
    "fragment_chunk_pieces",
    "kvs_tags",
    "read_fragments",
    "sample_mkv",
]


def sample_mkv(*args, **kwargs) -> bytes:
    """See :func:`kvsmock.media.sample.sample_mkv` (imported lazily: it needs PyAV and numpy)."""
    from .sample import sample_mkv as build

    return build(*args, **kwargs)
