"""The codecs kvsmock packages: one module per codec, each defining its :class:`~.base.Codec`.

:func:`find` looks a Matroska CodecID up; :func:`codec_string` gives the
RFC 6381 ``codecs`` value a master playlist or an MPD declares.
"""

from __future__ import annotations

from . import aac, base, g711, h264, h265
from .aac import check_aac_config
from .base import (
    AUDIO,
    VIDEO,
    ClipMediaError,
    Codec,
    InvalidCodecPrivateData,
    InvalidMediaFrame,
    MissingCodecPrivateData,
    UnsupportedMediaType,
)
from .g711 import check_wave_format
from .h264 import parse_avc_config
from .h265 import parse_hevc_config
from .nal import check_nal_frame

__all__ = [
    *base.__all__,
    "AAC",
    "ACM",
    "AVC",
    "CODECS",
    "HEVC",
    "VIDEO_CODECS",
    "by_name",
    "check_aac_config",
    "check_nal_frame",
    "check_wave_format",
    "codec_string",
    "find",
    "parse_avc_config",
    "parse_hevc_config",
]

#: Every codec known, video first.
CODECS: tuple[Codec, ...] = (h264.CODEC, h265.CODEC, aac.CODEC, g711.CODEC)

#: The CodecIDs producers write for each codec.
AVC, HEVC, AAC, ACM = h264.CODEC_ID, h265.CODEC_ID, aac.CODEC_ID, g711.CODEC_ID
#: CodecIDs of the video codecs a clip or an image can be made of.
VIDEO_CODECS = tuple(codec.codec_id for codec in CODECS if codec.kind == VIDEO)


def find(codec_id: str, *, aliases: bool = True) -> Codec | None:
    """The codec a Matroska CodecID names (only codecs' own CodecIDs when ``aliases`` is False)."""
    for codec in CODECS:
        if codec.is_named(codec_id, aliases=aliases):
            return codec
    return None


def by_name(name: str) -> Codec | None:
    """The codec of a short name (``"h264"``, ``"h265"``, ``"aac"``, ``"g711"``)."""
    return next((codec for codec in CODECS if codec.name == name), None)


def codec_string(codec_id: str, codec_private: bytes | None) -> str | None:
    """The RFC 6381 codecs value of a Matroska track (``avc1.64001f``, ``hvc1.1.6.L93.B0``, ``mp4a.40.2``).

    None when the codec has none or its codec private data does not tell.
    """
    codec = find(codec_id)
    if codec is None or codec.rfc6381 is None:
        return None
    try:
        return codec.rfc6381(codec_private or b"")
    except ValueError:
        return None
