"""Tracks: the one description of a track, read from a TrackEntry and written as one.

:class:`TrackInfo` is what the fragmenter records of a producer's Tracks,
what the GetMedia reader reports, and what the MKV writer declares.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..ebml import ids
from ..ebml.reading import decode_float, decode_string, decode_uint, iter_elements
from ..ebml.writing import element, float_element, master_element, string_element, uint_element

__all__ = ["TrackInfo", "parse_tracks", "track_entry"]


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """One track: what a frame's track number refers to (a TrackEntry of the Tracks element)."""

    number: int
    codec_id: str = ""  #: e.g. "V_MPEG4/ISO/AVC", "A_AAC"; trailing NULs stripped when read
    type: int | None = None  #: TrackType: 1 video, 2 audio, 17 subtitle, ...
    codec_private: bytes | None = None
    uid: int | None = None
    name: str | None = None
    default_duration: int | None = None  #: nanoseconds per frame, when the producer declares it
    width: int | None = None  #: video PixelWidth
    height: int | None = None  #: video PixelHeight
    sampling_rate: float | None = None  #: audio SamplingFrequency
    channels: int | None = None  #: audio Channels


# ------------------------------------------------------------------ reading
#: A TrackEntry child: the TrackInfo field it fills and its decoder (or, for a master, its own table).
_Fields = dict[int, Any]

#: The TrackEntry children kept, by ID.
_TRACK_ENTRY: _Fields = {
    ids.TRACK_NUMBER: ("number", decode_uint),
    ids.TRACK_UID: ("uid", decode_uint),
    ids.TRACK_TYPE: ("type", decode_uint),
    ids.CODEC_ID: ("codec_id", decode_string),
    ids.CODEC_PRIVATE: ("codec_private", bytes),
    ids.TRACK_NAME: ("name", decode_string),
    ids.DEFAULT_DURATION: ("default_duration", decode_uint),
    ids.VIDEO: {ids.PIXEL_WIDTH: ("width", decode_uint), ids.PIXEL_HEIGHT: ("height", decode_uint)},
    ids.AUDIO: {ids.SAMPLING_FREQUENCY: ("sampling_rate", decode_float), ids.CHANNELS: ("channels", decode_uint)},
}


def parse_tracks(payload: bytes | memoryview) -> list[TrackInfo]:
    """The TrackEntry elements of a Tracks payload, in file order."""
    tracks = []
    for element_id, start, end in iter_elements(payload):
        if element_id == ids.TRACK_ENTRY:
            fields: dict[str, Any] = {"number": 0}
            _read_fields(payload, start, end, _TRACK_ENTRY, fields)
            tracks.append(TrackInfo(**fields))
    return tracks


def _read_fields(buf: bytes | memoryview, start: int, end: int, table: _Fields, out: dict[str, Any]) -> None:
    for element_id, s, e in iter_elements(buf, start, end):
        spec = table.get(element_id)
        if isinstance(spec, dict):
            _read_fields(buf, s, e, spec, out)
        elif spec is not None:
            name, decode = spec
            out[name] = decode(buf[s:e])


# ------------------------------------------------------------------ writing
def track_entry(track: TrackInfo) -> bytes:
    """The TrackEntry element declaring ``track`` (no lacing; the UID defaults to the track number)."""
    children = [
        uint_element(ids.TRACK_NUMBER, track.number),
        uint_element(ids.TRACK_UID, track.uid if track.uid is not None else track.number),
    ]
    if track.type is not None:
        children.append(uint_element(ids.TRACK_TYPE, track.type))
    children.append(uint_element(ids.FLAG_LACING, 0))
    if track.name:
        children.append(string_element(ids.TRACK_NAME, track.name))
    children.append(string_element(ids.CODEC_ID, track.codec_id))
    if track.default_duration:
        children.append(uint_element(ids.DEFAULT_DURATION, track.default_duration))
    if track.codec_private:
        children.append(element(ids.CODEC_PRIVATE, track.codec_private))
    if track.width is not None and track.height is not None:
        children.append(
            master_element(
                ids.VIDEO,
                [uint_element(ids.PIXEL_WIDTH, track.width), uint_element(ids.PIXEL_HEIGHT, track.height)],
            )
        )
    if track.sampling_rate is not None:
        audio = [float_element(ids.SAMPLING_FREQUENCY, track.sampling_rate)]
        if track.channels is not None:
            audio.append(uint_element(ids.CHANNELS, track.channels))
        children.append(master_element(ids.AUDIO, audio))
    return master_element(ids.TRACK_ENTRY, children)
