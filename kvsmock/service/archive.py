"""Stored fragments joined back into one MKV, the input of every packaging step.

GetClip, GetImages and the HLS/DASH segments hand stored fragments to PyAV
(FFmpeg) as a single Matroska stream: the EBML header and Segment header of
the session the first fragment came in, then each fragment's Cluster. The
Cluster bytes are the stored ones, so nothing is re-encoded.
"""

from __future__ import annotations

from typing import Sequence

from ..media.ebml import UNKNOWN_SIZE_SEGMENT_HEADER
from .fragments import MediaHeader, StoredFragment

__all__ = ["as_mkv", "as_mkv_pieces", "mkv_header", "same_tracks"]


def mkv_header(header: MediaHeader) -> bytes:
    """What goes before the first Cluster of an MKV holding fragments with this header."""
    return header.ebml_header + UNKNOWN_SIZE_SEGMENT_HEADER + header.segment_header


def same_tracks(a: MediaHeader, b: MediaHeader) -> bool:
    """Whether fragments with these headers can share one MKV stream (same codecs, same track numbers)."""
    if a is b:
        return True
    key = lambda h: [(t.number, t.codec_id, t.codec_private) for t in h.tracks]  # noqa: E731
    return key(a) == key(b) and a.timecode_scale_ns == b.timecode_scale_ns


def as_mkv_pieces(fragments: Sequence[StoredFragment]) -> list[bytes]:
    """The pieces of one MKV holding ``fragments`` in the given order (``b"".join`` them for the file)."""
    if not fragments:
        raise ValueError("no fragments")
    pieces = [mkv_header(fragments[0].header)]
    pieces.extend(f.cluster for f in fragments)
    return pieces


def as_mkv(fragments: Sequence[StoredFragment]) -> bytes:
    """One MKV file holding ``fragments`` (their Clusters as stored, behind the first one's header)."""
    return b"".join(as_mkv_pieces(fragments))
