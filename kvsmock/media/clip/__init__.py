"""GetClip's media side: which tracks a clip keeps (:mod:`.tracks`) and the MKV-to-MP4 remux (:mod:`.remux`).

The errors they raise are the codec package's
(:class:`~kvsmock.media.codecs.ClipMediaError` and its subclasses), named
here too for the api layer that maps them to the service's exceptions.
"""

from __future__ import annotations

from ..codecs.base import (
    ClipMediaError,
    InvalidCodecPrivateData,
    InvalidMediaFrame,
    MissingCodecPrivateData,
    UnsupportedMediaType,
)
from .remux import ClipSource, mkv_to_mp4
from .tracks import ClipTracks, check_clip_tracks

__all__ = [
    "ClipMediaError",
    "ClipSource",
    "ClipTracks",
    "InvalidCodecPrivateData",
    "InvalidMediaFrame",
    "MissingCodecPrivateData",
    "UnsupportedMediaType",
    "check_clip_tracks",
    "mkv_to_mp4",
]
