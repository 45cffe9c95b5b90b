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

from . import ebml
from .ebml import element, master_element, string_element, uint_element
from .tags import END_OF_FRAGMENT, producer_tags

__all__ = ["Packet", "TrackSpec", "cluster_element", "header_elements", "split_fragments", "write_mkv"]


@dataclass(frozen=True, slots=True)
class TrackSpec:
    """A track to declare in Tracks."""

    number: int
    codec_id: str  # e.g. "V_MPEG4/ISO/AVC", "V_MPEGH/ISO/HEVC", "A_AAC"
    type: int  # ebml.TRACK_TYPE_VIDEO or ebml.TRACK_TYPE_AUDIO
    codec_private: bytes | None = None
    uid: int | None = None
    name: str | None = None
    default_duration: int | None = None  # ns per frame
    width: int | None = None
    height: int | None = None
    sampling_rate: float | None = None
    channels: int | None = None


@dataclass(frozen=True, slots=True)
class Packet:
    """One encoded frame, time in milliseconds from the start of the stream."""

    track: int
    time_ms: int
    keyframe: bool
    data: bytes


def track_entry(track: TrackSpec) -> bytes:
    children = [
        uint_element(ebml.TRACK_NUMBER, track.number),
        uint_element(ebml.TRACK_UID, track.uid if track.uid is not None else track.number),
        uint_element(ebml.TRACK_TYPE, track.type),
        uint_element(ebml.FLAG_LACING, 0),
    ]
    if track.name:
        children.append(string_element(ebml.TRACK_NAME, track.name))
    children.append(string_element(ebml.CODEC_ID, track.codec_id))
    if track.default_duration:
        children.append(uint_element(ebml.DEFAULT_DURATION, track.default_duration))
    if track.codec_private:
        children.append(element(ebml.CODEC_PRIVATE, track.codec_private))
    if track.width is not None and track.height is not None:
        children.append(
            master_element(
                ebml.VIDEO,
                [uint_element(ebml.PIXEL_WIDTH, track.width), uint_element(ebml.PIXEL_HEIGHT, track.height)],
            )
        )
    if track.sampling_rate is not None:
        audio = [ebml.float_element(ebml.SAMPLING_FREQUENCY, track.sampling_rate)]
        if track.channels is not None:
            audio.append(uint_element(ebml.CHANNELS, track.channels))
        children.append(master_element(ebml.AUDIO, audio))
    return master_element(ebml.TRACK_ENTRY, children)


def header_elements(
    tracks: Sequence[TrackSpec],
    *,
    timecode_scale: int = 1_000_000,
    app: str = "kvsmock",
    title: str | None = None,
) -> bytes:
    """Info and Tracks: the Segment children that precede the first Cluster."""
    info = [
        uint_element(ebml.TIMECODE_SCALE, timecode_scale),
        string_element(ebml.MUXING_APP, app),
        string_element(ebml.WRITING_APP, app),
    ]
    if title:
        info.append(string_element(ebml.TITLE, title))
    return master_element(ebml.INFO, info) + master_element(ebml.TRACKS, [track_entry(t) for t in tracks])


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
    parts = [uint_element(ebml.TIMECODE, timecode, width=8 if size_width == 8 else None)]
    for packet in packets:
        relative = packet.time_ms - timecode
        if not -32768 <= relative <= 32767:
            raise ValueError(f"frame {relative} ms away from its cluster timecode (int16 limit)")
        header = ebml.encode_vint(packet.track) + relative.to_bytes(2, "big", signed=True)
        header += b"\x80" if packet.keyframe else b"\x00"
        parts.append(ebml.encode_id(ebml.SIMPLE_BLOCK))
        parts.append(ebml.encode_vint(len(header) + len(packet.data), size_width))
        parts.append(header)
        parts.append(packet.data)
    body = b"".join(parts)
    if unknown_size:
        return ebml.unknown_size_header(ebml.CLUSTER, 1) + body
    return ebml.encode_id(ebml.CLUSTER) + ebml.encode_vint(len(body)) + body


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
    tracks: Sequence[TrackSpec],
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
    parts = [ebml.ebml_header(doc_type), ebml.UNKNOWN_SIZE_SEGMENT_HEADER, header_elements(tracks)]
    for index, fragment in enumerate(split_fragments(packets)):
        shifted = [Packet(p.track, p.time_ms + start_ms, p.keyframe, p.data) for p in fragment]
        timecode = min(p.time_ms for p in shifted)
        parts.append(
            cluster_element(timecode, shifted, unknown_size=unknown_size_clusters, size_width=size_width)
        )
        if fragment_tags is not None:
            for pair in fragment_tags(index):
                parts.append(producer_tags([pair], size_width))
        if end_of_fragment_tags:
            parts.append(producer_tags([(END_OF_FRAGMENT, "")], size_width))
    return b"".join(parts)
