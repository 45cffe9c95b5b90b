"""Writes producer-style MKV streams from encoded packets: one Cluster per fragment.

This is the layout KVS producers send with PutMedia: an EBML header, one
Segment (unknown size, so it can be streamed), Info, Tracks, then one
Cluster per fragment, each opening on a video keyframe. Options reproduce
what the official producer SDK does (unknown-size Clusters, 8-byte sizes,
fragment metadata Tags and the END_OF_FRAGMENT marker after each Cluster).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..ebml import ids
from ..ebml.vint import encode_id, encode_vint
from ..ebml.writing import (
    UNKNOWN_SIZE_SEGMENT_HEADER,
    ebml_header,
    master_element,
    string_element,
    tags_element,
    uint_element,
    unknown_size_header,
)
from .tags import END_OF_FRAGMENT
from .tracks import TrackInfo, track_entry

__all__ = ["Packet", "cluster_element", "header_elements", "split_fragments", "write_mkv"]


@dataclass(frozen=True, slots=True)
class Packet:
    """One encoded frame, time in milliseconds from the start of the stream."""

    track: int
    time_ms: int
    keyframe: bool
    data: bytes


def header_elements(
    tracks: Sequence[TrackInfo],
    *,
    timecode_scale: int = 1_000_000,
    app: str = "kvsmock",
    title: str | None = None,
) -> bytes:
    """Info and Tracks: the Segment children that precede the first Cluster."""
    info = [
        uint_element(ids.TIMECODE_SCALE, timecode_scale),
        string_element(ids.MUXING_APP, app),
        string_element(ids.WRITING_APP, app),
    ]
    if title:
        info.append(string_element(ids.TITLE, title))
    return master_element(ids.INFO, info) + master_element(ids.TRACKS, [track_entry(t) for t in tracks])


def cluster_element(
    timecode: int,
    packets: Sequence[Packet],
    *,
    unknown_size: bool = False,
    size_width: int | None = None,
) -> bytes:
    """One Cluster: Timecode then a SimpleBlock per packet (times relative to ``timecode``).

    ``size_width=8`` writes 8-byte Timecode payloads and 8-byte SimpleBlock
    sizes like the C producer SDK; ``unknown_size`` gives the ``0xFF`` size.
    """
    parts = [uint_element(ids.TIMECODE, timecode, width=8 if size_width == 8 else None)]
    for packet in packets:
        relative = packet.time_ms - timecode
        if not -32768 <= relative <= 32767:
            raise ValueError(f"frame {relative} ms away from its cluster timecode (int16 limit)")
        header = encode_vint(packet.track) + relative.to_bytes(2, "big", signed=True)
        header += b"\x80" if packet.keyframe else b"\x00"
        parts.append(encode_id(ids.SIMPLE_BLOCK))
        parts.append(encode_vint(len(header) + len(packet.data), size_width))
        parts.append(header)
        parts.append(packet.data)
    body = b"".join(parts)
    if unknown_size:
        return unknown_size_header(ids.CLUSTER, 1) + body
    return encode_id(ids.CLUSTER) + encode_vint(len(body)) + body


def split_fragments(packets: Sequence[Packet], key_track: int = 1) -> list[list[Packet]]:
    """Cut packets (in time order) at every keyframe of ``key_track``.

    Packets of other tracks go to the fragment whose time span holds them;
    any before the first keyframe go to the first fragment.
    """
    ordered = sorted(packets, key=lambda p: (p.time_ms, p.track != key_track))
    starts = [p.time_ms for p in ordered if p.track == key_track and p.keyframe]
    if not starts:
        return [list(ordered)] if ordered else []
    fragments: list[list[Packet]] = [[] for _ in starts]
    index = 0
    for packet in ordered:
        while index + 1 < len(starts) and packet.time_ms >= starts[index + 1]:
            index += 1
        fragments[index].append(packet)
    return [f for f in fragments if f]


def write_mkv(
    tracks: Sequence[TrackInfo],
    packets: Sequence[Packet],
    *,
    start_ms: int = 0,
    doc_type: str = "matroska",
    unknown_size_clusters: bool = False,
    size_width: int | None = None,
    fragment_tags: Callable[[int], list[tuple[str, str]]] | None = None,
    end_of_fragment_tags: bool = False,
) -> bytes:
    """A whole producer-style MKV stream.

    ``start_ms`` is added to every time (an epoch in ms gives ABSOLUTE
    timecodes). ``fragment_tags(i)`` gives producer metadata written after
    fragment ``i`` (one Tags element per tag, like the C SDK), and
    ``end_of_fragment_tags`` closes every fragment with the SDK's
    ``AWS_KINESISVIDEO_END_OF_FRAGMENT`` Tags.
    """
    parts = [ebml_header(doc_type), UNKNOWN_SIZE_SEGMENT_HEADER, header_elements(tracks)]
    for index, fragment in enumerate(split_fragments(packets)):
        shifted = [Packet(p.track, p.time_ms + start_ms, p.keyframe, p.data) for p in fragment]
        timecode = min(p.time_ms for p in shifted)
        parts.append(
            cluster_element(timecode, shifted, unknown_size=unknown_size_clusters, size_width=size_width)
        )
        if fragment_tags is not None:
            for pair in fragment_tags(index):
                parts.append(tags_element([pair], size_width))
        if end_of_fragment_tags:
            parts.append(tags_element([(END_OF_FRAGMENT, "")], size_width))
    return b"".join(parts)
