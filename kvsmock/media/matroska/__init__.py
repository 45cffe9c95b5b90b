"""Matroska above the byte level: the Segment header, tracks, KVS tags, Clusters, and an MKV writer.

The byte level (element IDs, VINTs, element reading and writing, the
walker) is :mod:`kvsmock.media.ebml`.
"""

from __future__ import annotations

from .clusters import cluster_timecode, count_blocks
from .header import DEFAULT_TIMECODE_SCALE, SegmentInfo, non_utf8_text, parse_doc_type, parse_info
from .tracks import TrackInfo, parse_tracks, track_entry
from .writer import Packet, cluster_element, header_elements, split_fragments, write_mkv

__all__ = [
    "DEFAULT_TIMECODE_SCALE",
    "Packet",
    "SegmentInfo",
    "TrackInfo",
    "cluster_element",
    "cluster_timecode",
    "count_blocks",
    "header_elements",
    "non_utf8_text",
    "parse_doc_type",
    "parse_info",
    "parse_tracks",
    "split_fragments",
    "track_entry",
    "write_mkv",
]
