"""Scanning a stored Cluster element: its Timecode and how many blocks it holds.

Both read only the Cluster's child headers, skipping payloads by size, and
stop at what they cannot walk (a truncated header, an unknown-size child).
"""

from __future__ import annotations

from collections.abc import Iterator

from ..ebml import ids
from ..ebml.errors import EBMLError
from ..ebml.reading import decode_uint, read_element_header

__all__ = ["cluster_timecode", "count_blocks"]

_BLOCKS = (ids.SIMPLE_BLOCK, ids.BLOCK_GROUP)


def _children(cluster: bytes | memoryview) -> Iterator[tuple[int, int, int]]:
    """``(id, payload start, payload end)`` of a Cluster's children, up to the first it cannot walk.

    Raises :class:`~kvsmock.media.ebml.EBMLError` when ``cluster`` does not start with a Cluster header.
    """
    header = read_element_header(cluster, 0)
    if header is None or header[0] != ids.CLUSTER:
        raise EBMLError("not a Cluster element")
    pos, end = header[2], len(cluster)
    while pos < end:
        child = read_element_header(cluster, pos)
        if child is None:
            return
        element_id, size, header_len = child
        if size is None:
            return
        pos += header_len
        yield element_id, pos, pos + size
        pos += size


def cluster_timecode(cluster: bytes | memoryview) -> int:
    """The Timecode of a Cluster element (timecode units); 0 when none comes before its first block.

    0 is also the time a demuxer gives such a Cluster. Raises
    :class:`~kvsmock.media.ebml.EBMLError` when the bytes are not a Cluster.
    """
    for element_id, start, end in _children(cluster):
        if element_id == ids.TIMECODE:
            return decode_uint(cluster[start:end])
        if element_id in _BLOCKS:
            break  # the Timecode comes before the first block
    return 0


def count_blocks(cluster: bytes | memoryview) -> int:
    """The SimpleBlocks and BlockGroups of a Cluster element (frames, but a laced block counts once)."""
    return sum(1 for element_id, _, _ in _children(cluster) if element_id in _BLOCKS)
