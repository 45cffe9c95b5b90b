"""What the EBML walker needs to know of a Matroska stream, for the two parsers that walk one.

Both follow the same outline (EBML header, Segment, Info, Tracks, Tags,
Clusters and their Timecode); they differ in how they take blocks: the
PutMedia fragmenter reads only block headers and skips frames, the GetMedia
reader reads blocks whole for their frames.
"""

from __future__ import annotations

from ..ebml import ids
from ..ebml.walker import Kind, Schema

__all__ = ["BLOCK_HEADERS", "WHOLE_BLOCKS", "stream_schema"]

_OUTLINE = {
    ids.EBML: Kind.READ,
    ids.SEGMENT: Kind.MASTER,
    ids.INFO: Kind.READ,
    ids.TRACKS: Kind.READ,
    ids.TAGS: Kind.READ,
    ids.CLUSTER: Kind.MASTER,
    ids.TIMECODE: Kind.READ,
}
#: A Segment ends at the next EBML header or Segment; an unknown-size Cluster at any non-child.
_TERMINATORS = {
    ids.SEGMENT: frozenset({ids.EBML, ids.SEGMENT}),
    ids.CLUSTER: ids.CLUSTER_ENDERS,
}


def stream_schema(blocks: dict[int, Kind]) -> Schema:
    """The outline of a Matroska stream, blocks taken as ``blocks`` says."""
    return Schema(kinds={**_OUTLINE, **blocks}, terminators=_TERMINATORS)


#: Block headers only, frames skipped (BlockGroups entered for their Block, BlockDuration and ReferenceBlock).
BLOCK_HEADERS = stream_schema(
    {
        ids.SIMPLE_BLOCK: Kind.BLOCK,
        ids.BLOCK_GROUP: Kind.MASTER,
        ids.BLOCK: Kind.BLOCK,
        ids.BLOCK_DURATION: Kind.READ,
    }
)
#: SimpleBlocks and BlockGroups read whole, for their frames.
WHOLE_BLOCKS = stream_schema({ids.SIMPLE_BLOCK: Kind.READ, ids.BLOCK_GROUP: Kind.READ})
