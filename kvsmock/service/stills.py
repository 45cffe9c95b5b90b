"""Still images of stored fragments: what GetImages returns and image generation writes to S3.

A fragment is decoded once, from its opening keyframe, for all the instants
asked of it; each image is the frame shown at or before its instant, scaled
and encoded by :class:`~kvsmock.media.images.ImageEncoder`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Sequence

from ..media import codecs
from ..media.images import ImageEncoder, ImageMediaError, frames_at
from ..media.matroska.clusters import cluster_timecode
from .archive import mkv_header
from .fragments import StoredFragment

__all__ = ["fragment_stills", "video_track_index"]


def video_track_index(fragment: StoredFragment) -> int | None:
    """Position of the video track images are taken from (track 1, H.264/H.265, valid CPD)."""
    for index, track in enumerate(fragment.header.tracks):
        if track.number != 1:
            continue
        codec = codecs.find(track.codec_id)
        if codec is None or codec.kind != codecs.VIDEO or not track.codec_private:
            return None
        try:
            codec.check_config(track.codec_private)
        except codecs.ClipMediaError:
            return None
        return index
    return None


def fragment_stills(
    fragment: StoredFragment,
    start_ms: int,
    times_ms: Sequence[int],
    encoder: ImageEncoder,
    width: int | None = None,
    height: int | None = None,
) -> list[bytes | None]:
    """Encoded images of ``fragment`` (which starts at ``start_ms``) at ``times_ms``; None where none can be made.

    Reading the fragment may raise :class:`~kvsmock.errors.KmsKeyError` (its stream's key is unusable).
    """
    index = video_track_index(fragment)
    if index is None:
        return [None] * len(times_ms)
    scale = Fraction(fragment.header.timecode_scale_ns, 1_000_000_000)
    cluster = fragment.cluster  # read (and decrypted) once
    timecode = cluster_timecode(cluster) or 0
    # Instants on the fragment's own MKV timeline: its Cluster Timecode plus the offset into it.
    targets = [timecode * scale + Fraction(t - start_ms, 1000) for t in times_ms]
    try:
        return frames_at(
            mkv_header(fragment.header) + cluster, targets, index, keep=lambda frame: encoder.encode(frame, width, height)
        )
    except ImageMediaError:
        return [None] * len(times_ms)
