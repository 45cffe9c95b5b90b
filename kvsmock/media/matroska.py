"""Matroska header elements: the EBML header's DocType, Info and Tracks.

These parse fully buffered element payloads (they are small and arrive
before the first Cluster) into typed values.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import ebml
from .ebml import decode_float, decode_string, decode_uint, iter_elements

__all__ = [
    "DEFAULT_TIMECODE_SCALE",
    "SegmentInfo",
    "TrackInfo",
    "non_utf8_text",
    "parse_doc_type",
    "parse_info",
    "parse_tracks",
]

#: Nanoseconds per timecode unit when Info has no TimecodeScale (1 ms).
DEFAULT_TIMECODE_SCALE = 1_000_000


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One TrackEntry of the Tracks element: what a frame's track number refers to."""

    number: int
    uid: int | None = None
    type: int | None = None  # 1 video, 2 audio, 17 subtitle, ...
    codec_id: str = ""  # trailing NULs stripped
    codec_private: bytes | None = None
    name: str | None = None
    default_duration: int | None = None  # nanoseconds per frame, when the producer declares it
    width: int | None = None  # video PixelWidth
    height: int | None = None  # video PixelHeight
    sampling_rate: float | None = None  # audio SamplingFrequency
    channels: int | None = None  # audio Channels


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """The Info element values that matter here."""

    timecode_scale: int = DEFAULT_TIMECODE_SCALE
    duration: float | None = None  # in timecode units, when present


def parse_doc_type(payload: bytes | memoryview) -> str:
    """The DocType of an EBML header payload, trailing NULs stripped ("" if absent)."""
    for element_id, start, end in iter_elements(payload):
        if element_id == ebml.DOC_TYPE:
            return decode_string(payload[start:end])
    return ""


def parse_info(payload: bytes | memoryview) -> SegmentInfo:
    """The TimecodeScale and Duration of an Info payload."""
    scale, duration = DEFAULT_TIMECODE_SCALE, None
    for element_id, start, end in iter_elements(payload):
        if element_id == ebml.TIMECODE_SCALE:
            scale = decode_uint(payload[start:end]) or DEFAULT_TIMECODE_SCALE
        elif element_id == ebml.DURATION:
            duration = decode_float(payload[start:end])
    return SegmentInfo(scale, duration)


def parse_tracks(payload: bytes | memoryview) -> list[TrackInfo]:
    """The TrackEntry elements of a Tracks payload, in file order."""
    tracks = []
    for element_id, start, end in iter_elements(payload):
        if element_id == ebml.TRACK_ENTRY:
            tracks.append(_parse_track_entry(payload, start, end))
    return tracks


def _parse_track_entry(buf: bytes | memoryview, start: int, end: int) -> TrackInfo:
    fields: dict = {"number": 0}
    for element_id, s, e in iter_elements(buf, start, end):
        value = buf[s:e]
        if element_id == ebml.TRACK_NUMBER:
            fields["number"] = decode_uint(value)
        elif element_id == ebml.TRACK_UID:
            fields["uid"] = decode_uint(value)
        elif element_id == ebml.TRACK_TYPE:
            fields["type"] = decode_uint(value)
        elif element_id == ebml.CODEC_ID:
            fields["codec_id"] = decode_string(value)
        elif element_id == ebml.CODEC_PRIVATE:
            fields["codec_private"] = bytes(value)
        elif element_id == ebml.TRACK_NAME:
            fields["name"] = decode_string(value)
        elif element_id == ebml.DEFAULT_DURATION:
            fields["default_duration"] = decode_uint(value)
        elif element_id == ebml.VIDEO:
            for sub_id, ss, se in iter_elements(buf, s, e):
                if sub_id == ebml.PIXEL_WIDTH:
                    fields["width"] = decode_uint(buf[ss:se])
                elif sub_id == ebml.PIXEL_HEIGHT:
                    fields["height"] = decode_uint(buf[ss:se])
        elif element_id == ebml.AUDIO:
            for sub_id, ss, se in iter_elements(buf, s, e):
                if sub_id == ebml.SAMPLING_FREQUENCY:
                    fields["sampling_rate"] = decode_float(buf[ss:se])
                elif sub_id == ebml.CHANNELS:
                    fields["channels"] = decode_uint(buf[ss:se])
    return TrackInfo(**fields)


#: Elements whose payload is text (EBML String or UTF-8 types) in the parts a fragment is stored with.
_TEXT = frozenset(
    {
        ebml.TITLE, ebml.MUXING_APP, ebml.WRITING_APP, ebml.TRACK_NAME, ebml.CODEC_NAME, ebml.CODEC_ID,
        ebml.LANGUAGE, ebml.TAG_NAME, ebml.TAG_STRING, ebml.TAG_LANGUAGE,
    }
)
#: Masters below Info, Tracks and Tags that hold such text.
_TEXT_MASTERS = frozenset({ebml.TRACK_ENTRY, ebml.TAG, ebml.SIMPLE_TAG, ebml.TARGETS})


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

