"""GetMedia chunks: one stored fragment laid out as the service sends it.

Every chunk is a complete MKV file (spec 2.4)::

    EBML header (the producer's)
    Segment, unknown size (18 53 80 67 01 FF FF FF FF FF FF FF)
      producer header elements (SeekHead, Void, Info, Tracks, producer Tags ...)
      Tags (KVS): FRAGMENT_NUMBER, SERVER_TIMESTAMP, PRODUCER_TIMESTAMP
      Cluster, bytes as uploaded
      producer Tags that followed the Cluster
      Tags (KVS): MILLIS_BEHIND_NOW, CONTINUATION_TOKEN

The builders return a list of ``bytes`` pieces so that a stream can be
written out without joining large buffers; ``b"".join(pieces)`` gives the chunk.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from .ebml import UNKNOWN_SIZE_SEGMENT_HEADER, ebml_header, kvs_tags
from .fragmenter import Fragment
from .tags import (
    CONTINUATION_TOKEN,
    ERROR_CODE,
    ERROR_ID,
    FRAGMENT_NUMBER,
    MILLIS_BEHIND_NOW,
    PRODUCER_TIMESTAMP,
    SERVER_TIMESTAMP,
)

__all__ = ["DEFAULT_EBML_HEADER", "chunk_pieces", "error_chunk_pieces", "format_timestamp", "fragment_chunk_pieces"]

#: An EBML header for chunks of a stream whose producer header is not known.
DEFAULT_EBML_HEADER = ebml_header("matroska")


def format_timestamp(seconds: float | Decimal | int) -> str:
    """Epoch seconds with three decimals, as KVS writes timestamps in tags (``1511852109.126``)."""
    if isinstance(seconds, float):
        seconds = Decimal(repr(seconds))  # the shortest decimal that round-trips, not the binary expansion
    return f"{Decimal(seconds).quantize(_MILLI, rounding=ROUND_HALF_UP):f}"


_MILLI = Decimal("0.001")


def chunk_pieces(
    ebml_header_bytes: bytes,
    header_bytes: bytes,
    cluster_bytes: bytes,
    tags_after: bytes = b"",
    *,
    fragment_number: str,
    server_timestamp: float | Decimal,
    producer_timestamp: float | Decimal,
    millis_behind_now: int | None = None,
    continuation_token: str | None = None,
) -> list[bytes]:
    """The pieces of one GetMedia chunk.

    The trailing KVS Tags block is written when ``millis_behind_now`` or
    ``continuation_token`` is given (real captures show the last chunk of a
    response may lack it); it holds whichever of the two are given.
    """
    pieces = [
        ebml_header_bytes,
        UNKNOWN_SIZE_SEGMENT_HEADER,
        header_bytes,
        kvs_tags(
            [
                (FRAGMENT_NUMBER, fragment_number),
                (SERVER_TIMESTAMP, format_timestamp(server_timestamp)),
                (PRODUCER_TIMESTAMP, format_timestamp(producer_timestamp)),
            ]
        ),
        cluster_bytes,
    ]
    if tags_after:
        pieces.append(tags_after)
    trailing = []
    if millis_behind_now is not None:
        trailing.append((MILLIS_BEHIND_NOW, str(int(millis_behind_now))))
    if continuation_token is not None:
        trailing.append((CONTINUATION_TOKEN, continuation_token))
    if trailing:
        pieces.append(kvs_tags(trailing))
    return [piece for piece in pieces if piece]


def fragment_chunk_pieces(
    ebml_header_bytes: bytes,
    header_bytes: bytes,
    fragment: Fragment,
    **tag_values,
) -> list[bytes]:
    """:func:`chunk_pieces` for a :class:`~kvsmock.media.fragmenter.Fragment` (same keyword arguments)."""
    return chunk_pieces(ebml_header_bytes, header_bytes, fragment.cluster_bytes, fragment.tags_after, **tag_values)


def error_chunk_pieces(
    fragment_number: str,
    error_id: int,
    error_code: str,
    *,
    ebml_header_bytes: bytes = DEFAULT_EBML_HEADER,
    header_bytes: bytes = b"",
) -> list[bytes]:
    """A chunk reporting the error that stopped a GetMedia response.

    It carries FRAGMENT_NUMBER, ERROR_ID and ERROR_CODE and no
    SERVER_TIMESTAMP, which is how consumers (the Java parser library) tell
    an error record from a fragment. The exact framing of the real service
    is unverified (spec 9.5); this one is a valid MKV on its own.
    """
    pieces = [
        ebml_header_bytes,
        UNKNOWN_SIZE_SEGMENT_HEADER,
        header_bytes,
        kvs_tags([(FRAGMENT_NUMBER, fragment_number), (ERROR_ID, str(int(error_id))), (ERROR_CODE, error_code)]),
    ]
    return [piece for piece in pieces if piece]
