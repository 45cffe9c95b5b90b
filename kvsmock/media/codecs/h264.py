"""H.264 (AVC): its Matroska CodecID, its AVCDecoderConfigurationRecord, its RFC 6381 name."""

from __future__ import annotations

from .base import VIDEO, Codec, InvalidCodecPrivateData
from .nal import record_length_size

__all__ = ["CODEC", "CODEC_ID", "codec_string", "parse_avc_config"]

CODEC_ID = "V_MPEG4/ISO/AVC"


def parse_avc_config(cpd: bytes) -> int:
    """Check an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1); return the NAL length size.

    Annex-B parameter sets (``00 00 00 01 67 ...``), which producers that
    skip NAL adaptation send, fail here as on the service.
    """
    b = bytes(cpd)
    length_size = record_length_size(b, "AVC", 7, 4)
    pos = 5
    for kind, count_mask, nal_type in (("SPS", 0x1F, 7), ("PPS", 0xFF, 8)):
        if pos >= len(b):
            raise InvalidCodecPrivateData(f"The AVC configuration ends before its {kind} count.")
        count = b[pos] & count_mask
        pos += 1
        if kind == "SPS" and count == 0:
            raise InvalidCodecPrivateData("The AVC configuration holds no sequence parameter set.")
        for _ in range(count):
            if pos + 2 > len(b):
                raise InvalidCodecPrivateData(f"The AVC configuration is truncated inside its {kind} list.")
            size = int.from_bytes(b[pos : pos + 2], "big")
            pos += 2
            if size == 0 or pos + size > len(b):
                raise InvalidCodecPrivateData(f"An {kind} in the AVC configuration overruns the record.")
            if b[pos] & 0x80 or b[pos] & 0x1F != nal_type:
                raise InvalidCodecPrivateData(f"An {kind} entry of the AVC configuration is not an {kind} NAL unit.")
            pos += size
    return length_size


def codec_string(cpd: bytes) -> str:
    """``avc1.PPCCLL``: profile, constraint flags and level from the record."""
    if len(cpd) < 4:
        raise ValueError("AVCDecoderConfigurationRecord too short")
    return f"avc1.{cpd[1]:02x}{cpd[2]:02x}{cpd[3]:02x}"


CODEC = Codec(
    "h264", VIDEO, CODEC_ID, parse_avc_config, codec_string, ("V_MPEG/ISO/AVC",), encoders=("libx264", "h264")
)
