"""H.264 (AVC): its Matroska CodecID, its AVCDecoderConfigurationRecord, its RFC 6381 name.

Also what a live writer needs from raw H.264: NAL unit types, the record
built from a sequence and a picture parameter set, and the picture size a
sequence parameter set declares.
"""

from __future__ import annotations

from .base import VIDEO, Codec, InvalidCodecPrivateData
from .nal import record_length_size

__all__ = [
    "CODEC",
    "CODEC_ID",
    "NAL_IDR",
    "NAL_PPS",
    "NAL_SPS",
    "avc_config",
    "codec_string",
    "nal_type",
    "parse_avc_config",
    "sps_dimensions",
]

CODEC_ID = "V_MPEG4/ISO/AVC"

#: NAL unit types: a coded slice of an IDR picture, a sequence and a picture parameter set.
NAL_IDR, NAL_SPS, NAL_PPS = 5, 7, 8

#: Profiles whose sequence parameter set carries chroma format and bit depths (7.3.2.1.1).
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


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


def nal_type(unit: bytes) -> int:
    """The nal_unit_type of a NAL unit (its header's low five bits)."""
    return unit[0] & 0x1F


def avc_config(sps: list[bytes], pps: list[bytes], length_size: int = 4) -> bytes:
    """The AVCDecoderConfigurationRecord (CodecPrivate of ``V_MPEG4/ISO/AVC``) of these parameter sets.

    Profile, compatibility and level come from the first SPS; NAL units in
    frames are then ``length_size`` bytes long-prefixed.
    """
    if not sps or len(sps[0]) < 4:
        raise ValueError("an AVC configuration needs a sequence parameter set")
    record = bytes([1, sps[0][1], sps[0][2], sps[0][3], 0xFC | (length_size - 1), 0xE0 | len(sps)])
    for unit in sps:
        record += len(unit).to_bytes(2, "big") + unit
    record += bytes([len(pps)])
    for unit in pps:
        record += len(unit).to_bytes(2, "big") + unit
    return record


class _Bits:
    """Reads the bits of an RBSP, Exp-Golomb codes included (9.1)."""

    def __init__(self, rbsp: bytes):
        self.value = int.from_bytes(rbsp, "big")
        self.left = len(rbsp) * 8

    def u(self, count: int) -> int:
        if count > self.left:
            raise ValueError("the parameter set ends early")
        self.left -= count
        return (self.value >> self.left) & ((1 << count) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("an Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _rbsp(unit: bytes) -> bytes:
    """A NAL unit's payload without its header and emulation prevention bytes (``00 00 03``)."""
    out = bytearray()
    zeros = 0
    for byte in unit[1:]:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def sps_dimensions(sps: bytes) -> tuple[int, int]:
    """The picture width and height (after cropping) a sequence parameter set declares (7.3.2.1.1)."""
    bits = _Bits(_rbsp(sps))
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format, separate_planes = 1, 0
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.u(1)
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.u(1)  # mb_adaptive_frame_field_flag
    bits.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_units * 16
    if bits.u(1):  # frame_cropping_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        if separate_planes or chroma_format == 0:
            unit_x, unit_y = 1, 2 - frame_mbs_only
        else:
            unit_x = 1 if chroma_format == 3 else 2
            unit_y = (2 if chroma_format == 1 else 1) * (2 - frame_mbs_only)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    return width, height


CODEC = Codec(
    "h264", VIDEO, CODEC_ID, parse_avc_config, codec_string, ("V_MPEG/ISO/AVC",), encoders=("libx264", "h264")
)
