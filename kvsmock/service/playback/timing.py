"""Segment timing: epoch milliseconds and the shift that places a fragment's Cluster on a session's timeline."""

from __future__ import annotations

from fractions import Fraction

from ..fragments import StoredFragment


def ms(seconds: float) -> int:
    """Seconds as whole milliseconds (rounded)."""
    return int(round(seconds * 1000))


def segment_shift(fragment: StoredFragment, media_time_ms: int, cluster_timecode: int) -> Fraction:
    """Seconds to add to a fragment's Matroska timestamps so that its Cluster starts at ``media_time_ms``."""
    scale = fragment.header.timecode_scale_ns
    return Fraction(media_time_ms, 1000) - Fraction(cluster_timecode * scale, 1_000_000_000)
