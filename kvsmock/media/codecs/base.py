"""What every codec module builds on: the :class:`Codec` description and the errors codec checks raise.

A :class:`Codec` says what the media layer knows of one codec: the Matroska
CodecID producers send for it (and older IDs that name it too), how to check
its codec private data, the RFC 6381 ``codecs`` string players are told, and
the PyAV encoders that can make sample media of it.

The errors are the reasons stored media cannot be packaged (as a clip or an
image); the api layer turns them into the service's exceptions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "AUDIO",
    "VIDEO",
    "ClipMediaError",
    "Codec",
    "InvalidCodecPrivateData",
    "InvalidMediaFrame",
    "MissingCodecPrivateData",
    "UnsupportedMediaType",
]

VIDEO, AUDIO = "video", "audio"


class ClipMediaError(ValueError):
    """The stored media cannot be made into a clip (or an image)."""


class UnsupportedMediaType(ClipMediaError):
    """A track's codec is not one a clip can hold (or track 1 is not video)."""


class MissingCodecPrivateData(ClipMediaError):
    """A track has no CodecPrivate."""


class InvalidCodecPrivateData(ClipMediaError):
    """A track's CodecPrivate is not the configuration record its codec needs."""


class InvalidMediaFrame(ClipMediaError):
    """A frame is not what its codec's configuration says frames look like."""


@dataclass(frozen=True)
class Codec:
    """One codec as the media layer knows it (each codec module defines its ``CODEC``)."""

    name: str  #: short name: "h264", "h265", "aac", "g711"
    kind: str  #: :data:`VIDEO` or :data:`AUDIO`
    codec_id: str  #: the Matroska CodecID producers write (the one GetClip and GetImages take)
    #: Checks CodecPrivate and returns what it tells (the NAL length size of a video codec);
    #: raises :class:`InvalidCodecPrivateData` (or :class:`UnsupportedMediaType`).
    check_config: Callable[[bytes], object]
    #: The RFC 6381 ``codecs`` value from CodecPrivate (raises ValueError when it cannot tell); None: none known.
    rfc6381: Callable[[bytes], str] | None = None
    #: Other CodecIDs that name this codec (HLS/DASH packaging accepts them).
    aliases: tuple[str, ...] = ()
    #: CodecIDs starting with this name it too (``A_AAC/MPEG4/LC`` ...).
    alias_prefix: str = ""
    #: PyAV encoder names that make it, best first (for sample media).
    encoders: tuple[str, ...] = ()

    def is_named(self, codec_id: str, *, aliases: bool = True) -> bool:
        """Whether ``codec_id`` is this codec (only its own CodecID when ``aliases`` is False)."""
        if codec_id == self.codec_id:
            return True
        if not aliases:
            return False
        return codec_id in self.aliases or bool(self.alias_prefix and codec_id.startswith(self.alias_prefix))
