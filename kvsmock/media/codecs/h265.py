"""H.265 (HEVC): its Matroska CodecID, its HEVCDecoderConfigurationRecord, its RFC 6381 name."""

from __future__ import annotations

from .base import VIDEO, Codec, InvalidCodecPrivateData
from .nal import record_length_size

__all__ = ["CODEC", "CODEC_ID", "codec_string", "parse_hevc_config"]

CODEC_ID = "V_MPEGH/ISO/HEVC"


def parse_hevc_config(cpd: bytes) -> int:
    """Check an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1); return the NAL length size."""
    b = bytes(cpd)
    length_size = record_length_size(b, "HEVC", 23, 21)
    pos, arrays = 23, b[22]
    for _ in range(arrays):
        if pos + 3 > len(b):
            raise InvalidCodecPrivateData("The HEVC configuration is truncated inside its NAL unit arrays.")
        count = int.from_bytes(b[pos + 1 : pos + 3], "big")
        pos += 3
        for _ in range(count):
            if pos + 2 > len(b):
                raise InvalidCodecPrivateData("The HEVC configuration is truncated inside a NAL unit array.")
            size = int.from_bytes(b[pos : pos + 2], "big")
            pos += 2
            if size < 2 or pos + size > len(b) or b[pos] & 0x80:
                raise InvalidCodecPrivateData("A NAL unit in the HEVC configuration is malformed.")
            pos += size
    return length_size


def _reverse_bits32(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


def codec_string(cpd: bytes) -> str:
    """``hvc1.<space><profile>.<compatibility>.<tier><level>[.<constraints>]`` from the record."""
    if len(cpd) < 13:
        raise ValueError("HEVCDecoderConfigurationRecord too short")
    space = ("", "A", "B", "C")[cpd[1] >> 6]
    tier = "H" if cpd[1] & 0x20 else "L"
    profile = cpd[1] & 0x1F
    compat = _reverse_bits32(int.from_bytes(cpd[2:6], "big"))
    constraints = list(cpd[6:12])
    while constraints and constraints[-1] == 0:
        constraints.pop()
    parts = [f"hvc1.{space}{profile}", f"{compat:X}", f"{tier}{cpd[12]}"] + [f"{b:X}" for b in constraints]
    return ".".join(parts)


CODEC = Codec(
    "h265", VIDEO, CODEC_ID, parse_hevc_config, codec_string, ("V_MPEG/ISO/HEVC",), encoders=("libx265", "hevc")
)
