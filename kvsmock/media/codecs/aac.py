"""AAC: its Matroska CodecID, its AudioSpecificConfig, its RFC 6381 name."""

from __future__ import annotations

from .base import AUDIO, Codec, InvalidCodecPrivateData

__all__ = ["CODEC", "CODEC_ID", "audio_object_type", "check_aac_config", "codec_string"]

CODEC_ID = "A_AAC"

_AAC_RATES = 13  # sampling frequency indexes 0-12 are defined; 13 and 14 are reserved, 15 is explicit


def check_aac_config(cpd: bytes) -> None:
    """Check an AAC AudioSpecificConfig (ISO/IEC 14496-3 1.6.2.1)."""
    b = bytes(cpd)
    if len(b) < 2:
        raise InvalidCodecPrivateData("The AAC codec private data is shorter than an AudioSpecificConfig.")
    bits = int.from_bytes(b[:8].ljust(8, b"\0"), "big")
    available = len(b) * 8

    def take(count: int, at: int) -> int:
        if at + count > available:
            raise InvalidCodecPrivateData("The AAC AudioSpecificConfig is truncated.")
        return (bits >> (64 - at - count)) & ((1 << count) - 1)

    pos = 0
    object_type = take(5, pos)
    pos += 5
    if object_type == 31:
        object_type = 32 + take(6, pos)
        pos += 6
    if object_type == 0:
        raise InvalidCodecPrivateData("The AAC AudioSpecificConfig declares audio object type 0 (null).")
    rate_index = take(4, pos)
    pos += 4
    if rate_index == 15:
        take(24, pos)
        pos += 24
    elif rate_index >= _AAC_RATES:
        raise InvalidCodecPrivateData(f"The AAC AudioSpecificConfig uses reserved sampling index {rate_index}.")
    take(4, pos)  # channelConfiguration (0 means a program config element follows)


def audio_object_type(codec_private: bytes) -> int:
    """The MPEG-4 audioObjectType of an AudioSpecificConfig."""
    if not codec_private:
        raise ValueError("empty AudioSpecificConfig")
    aot = codec_private[0] >> 3
    if aot == 31 and len(codec_private) >= 2:
        aot = 32 + (((codec_private[0] & 0x07) << 3) | (codec_private[1] >> 5))
    return aot


def codec_string(cpd: bytes) -> str:
    """``mp4a.40.<audioObjectType>``."""
    return f"mp4a.40.{audio_object_type(cpd)}"


CODEC = Codec("aac", AUDIO, CODEC_ID, check_aac_config, codec_string, alias_prefix="A_AAC/", encoders=("aac",))
