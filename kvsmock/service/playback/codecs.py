"""The service's codec rules for HLS and DASH playback: which tracks a session can package."""

from __future__ import annotations

from ...errors import (
    InvalidCodecPrivateDataException,
    MissingCodecPrivateDataException,
    UnsupportedStreamMediaTypeException,
)
from ...media import codecs
from ...media.codecs import ClipMediaError, Codec
from ...media.matroska import TrackInfo
from ..fragments import MediaHeader
from .options import DASH, FRAGMENTED_MP4, MPEG_TS

#: The Matroska CodecID of G.711 audio (DASH only).
G711 = codecs.ACM


def codec_of(track: TrackInfo) -> Codec | None:
    """The codec a track's CodecID names, if kvsmock knows it."""
    return codecs.find(track.codec_id)


def is_video(track: TrackInfo) -> bool:
    """An H.264 or H.265 video track."""
    codec = codec_of(track)
    return codec is not None and codec.kind == codecs.VIDEO


def is_aac(track: TrackInfo) -> bool:
    """An AAC audio track (``A_AAC`` or one of its ``A_AAC/…`` profiles)."""
    codec = codec_of(track)
    return codec is not None and codec.name == "aac"


def check_codecs(header: MediaHeader, protocol: str, container: str = FRAGMENTED_MP4) -> None:
    """The service's codec rules for HLS/DASH, applied to a fragment's tracks.

    Track 1 is H.264 or H.265 video (H.264 only for MPEG-TS) or, audio-only,
    AAC; an optional track 2 is AAC (DASH also takes G.711, ``A_MS/ACM``).
    Every track needs valid codec private data.
    """
    tracks = list(header.tracks)
    if not tracks or len(tracks) > 2:
        raise UnsupportedStreamMediaTypeException(
            "The type of the media could not be determined from the codec IDs of the tracks in the first fragment "
            "for a playback session; track 1 must be H.264 or H.265 video and an optional track 2 AAC audio."
        )
    first = tracks[0]
    video = codec_of(first) if is_video(first) else None
    if video is None and not is_aac(first):
        raise UnsupportedStreamMediaTypeException(
            f"Track 1 has codec ID {first.codec_id!r}; {protocol} playback needs V_MPEG4/ISO/AVC (H.264), "
            "V_MPEGH/ISO/HEVC (H.265) or, for audio-only streams, A_AAC."
        )
    if container == MPEG_TS and video is not None and video.name == "h265":
        raise UnsupportedStreamMediaTypeException("MPEG_TS sessions carry H.264 video only; use FRAGMENTED_MP4 for H.265.")
    if len(tracks) == 2:
        second = tracks[1]
        allowed = is_aac(second) or (protocol == DASH and second.codec_id == G711)
        if video is None or not allowed:
            want = "A_AAC or A_MS/ACM" if protocol == DASH else "A_AAC"
            raise UnsupportedStreamMediaTypeException(
                f"Track 2 has codec ID {second.codec_id!r}; {protocol} playback takes {want} as track 2 of a video stream."
            )
    for track in tracks:
        _check_private_data(track)


def _check_private_data(track: TrackInfo) -> None:
    cpd = track.codec_private
    if not cpd:
        raise MissingCodecPrivateDataException(
            f"No codec private data was found in track {track.number} of the video stream."
        )
    codec = codec_of(track)
    try:
        if codec is not None:
            codec.check_config(cpd)
    except ClipMediaError:
        raise InvalidCodecPrivateDataException(
            f"The codec private data in track {track.number} of the video stream is not valid for this operation."
        ) from None
