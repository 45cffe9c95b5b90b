"""G.711 (A-law and mu-law): its Matroska CodecID and the WAVEFORMATEX it is declared with."""

from __future__ import annotations

from .base import AUDIO, Codec, InvalidCodecPrivateData, UnsupportedMediaType

__all__ = ["CODEC", "CODEC_ID", "G711_FORMAT_TAGS", "check_wave_format"]

#: Matroska's ID for audio declared by an MS WAVEFORMATEX (the format tag names the codec).
CODEC_ID = "A_MS/ACM"
#: WAVEFORMATEX wFormatTag values of G.711: A-law and mu-law.
G711_FORMAT_TAGS = {6: "alaw", 7: "mulaw"}


def check_wave_format(cpd: bytes) -> str:
    """Check an MS WAVEFORMATEX for G.711; return ``"alaw"`` or ``"mulaw"``."""
    b = bytes(cpd)
    if len(b) < 16:
        raise InvalidCodecPrivateData("The A_MS/ACM codec private data is shorter than a WAVEFORMATEX.")
    tag = int.from_bytes(b[0:2], "little")
    channels = int.from_bytes(b[2:4], "little")
    rate = int.from_bytes(b[4:8], "little")
    if channels == 0 or rate == 0:
        raise InvalidCodecPrivateData("The WAVEFORMATEX declares no channels or a zero sample rate.")
    if tag not in G711_FORMAT_TAGS:
        raise UnsupportedMediaType(f"The A_MS/ACM track has format tag {tag}, not G.711 (6 or 7).")
    return G711_FORMAT_TAGS[tag]


CODEC = Codec(name="g711", kind=AUDIO, codec_id=CODEC_ID, check_config=check_wave_format)
