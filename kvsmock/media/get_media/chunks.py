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
from typing import Any

from ..ebml.writing import UNKNOWN_SIZE_SEGMENT_HEADER, ebml_header, kvs_tags
from ..matroska import tags as tag_names
from ..put_media.events import Fragment

__all__ = ["DEFAULT_EBML_HEADER", "chunk_pieces", "error_chunk_pieces", "format_timestamp", "fragment_chunk_pieces"]

#: An EBML header for chunks of a stream whose producer header is not known.
DEFAULT_EBML_HEADER = ebml_header("matroska")


def format_timestamp(seconds: float | Decimal | int) -> str:
    """Epoch seconds with three decimals, as KVS writes timestamps in tags (``1511852109.126``)."""
    if isinstance(seconds, float):
        seconds = Decimal(repr(seconds))  # the shortest decimal that round-trips, not the binary expansion
    return f"{Decimal(seconds).quantize(_MILLI, rounding=ROUND_HALF_UP):f}"


_MILLI = Decimal("0.001")


def _opening(ebml_header_bytes: bytes, header_bytes: bytes, kvs_pairs: list[tuple[str, str]]) -> list[bytes]:
    """What every chunk starts with: the EBML header, an unknown-size Segment, the header, the KVS Tags."""
    return [ebml_header_bytes, UNKNOWN_SIZE_SEGMENT_HEADER, header_bytes, kvs_tags(kvs_pairs)]


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
    leading = [
        (tag_names.FRAGMENT_NUMBER, fragment_number),
        (tag_names.SERVER_TIMESTAMP, format_timestamp(server_timestamp)),
        (tag_names.PRODUCER_TIMESTAMP, format_timestamp(producer_timestamp)),
    ]
    pieces = _opening(ebml_header_bytes, header_bytes, leading)
    pieces.append(cluster_bytes)
    if tags_after:
        pieces.append(tags_after)
    trailing = []
    if millis_behind_now is not None:
        trailing.append((tag_names.MILLIS_BEHIND_NOW, str(int(millis_behind_now))))
    if continuation_token is not None:
        trailing.append((tag_names.CONTINUATION_TOKEN, continuation_token))
    if trailing:
        pieces.append(kvs_tags(trailing))
    return [piece for piece in pieces if piece]


def fragment_chunk_pieces(
    ebml_header_bytes: bytes,
    header_bytes: bytes,
    fragment: Fragment,
    **tag_values: Any,
) -> list[bytes]:
    """:func:`chunk_pieces` for a :class:`~kvsmock.media.put_media.events.Fragment` (same keyword arguments)."""
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
    leading = [
        (tag_names.FRAGMENT_NUMBER, fragment_number),
        (tag_names.ERROR_ID, str(int(error_id))),
        (tag_names.ERROR_CODE, error_code),
    ]
    return [piece for piece in _opening(ebml_header_bytes, header_bytes, leading) if piece]
