"""The Segment header elements other than Tracks: the EBML header's DocType, Info, and text checks.

These parse fully buffered element payloads (they are small and arrive
before the first Cluster) into typed values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ebml import ids
from ..ebml.reading import decode_float, decode_string, decode_uint, iter_elements

__all__ = ["DEFAULT_TIMECODE_SCALE", "SegmentInfo", "non_utf8_text", "parse_doc_type", "parse_info"]

#: Nanoseconds per timecode unit when Info has no TimecodeScale (1 ms).
DEFAULT_TIMECODE_SCALE = 1_000_000


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The Info element values that matter here."""

    timecode_scale: int = DEFAULT_TIMECODE_SCALE
    duration: float | None = None  # in timecode units, when present


def parse_doc_type(payload: bytes | memoryview) -> str:
    """The DocType of an EBML header payload, trailing NULs stripped ("" if absent)."""
    for element_id, start, end in iter_elements(payload):
        if element_id == ids.DOC_TYPE:
            return decode_string(payload[start:end])
    return ""


def parse_info(payload: bytes | memoryview) -> SegmentInfo:
    """The TimecodeScale and Duration of an Info payload."""
    scale, duration = DEFAULT_TIMECODE_SCALE, None
    for element_id, start, end in iter_elements(payload):
        if element_id == ids.TIMECODE_SCALE:
            scale = decode_uint(payload[start:end]) or DEFAULT_TIMECODE_SCALE
        elif element_id == ids.DURATION:
            duration = decode_float(payload[start:end])
    return SegmentInfo(scale, duration)


#: Elements whose payload is text (EBML String or UTF-8 types) in the parts a fragment is stored with.
_TEXT = frozenset(
    {
        ids.TITLE, ids.MUXING_APP, ids.WRITING_APP, ids.TRACK_NAME, ids.CODEC_NAME, ids.CODEC_ID,
        ids.LANGUAGE, ids.TAG_NAME, ids.TAG_STRING, ids.TAG_LANGUAGE,
    }
)
#: Masters below Info, Tracks and Tags that hold such text.
_TEXT_MASTERS = frozenset({ids.TRACK_ENTRY, ids.TAG, ids.SIMPLE_TAG, ids.TARGETS})


def non_utf8_text(payload: bytes | memoryview) -> int | None:
    """The ID of the first text element in an Info, Tracks or Tags payload whose bytes are not UTF-8.

    Demuxers (FFmpeg, so PyAV) refuse a file holding one, so such media
    could be stored but never packaged. None when all text is valid.
    """
    view = memoryview(payload)
    pending = [(0, len(view))]
    while pending:
        start, end = pending.pop()
        for element_id, s, e in iter_elements(view, start, end):
            if element_id in _TEXT_MASTERS:
                pending.append((s, e))
            elif element_id in _TEXT:
                try:
                    bytes(view[s:e]).decode("utf-8")
                except UnicodeDecodeError:
                    return element_id
    return None

