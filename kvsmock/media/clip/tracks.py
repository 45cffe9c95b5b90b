"""Which tracks a clip keeps, and whether it can: the GetClip rules on a stream's tracks.

Track 1 must be H.264 or H.265 video, an optional track 2 AAC or G.711
audio, each with well-formed codec private data; further tracks are left
out. G.711 audio needs a QuickTime (``mov``) container, the ISO MP4 muxer
cannot hold it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from ..codecs import AUDIO, VIDEO, Codec, MissingCodecPrivateData, UnsupportedMediaType, aac, find, g711, h264, h265
from ..matroska.tracks import TrackInfo

__all__ = ["ClipTracks", "check_clip_tracks"]


@dataclass(frozen=True)
class ClipTracks:
    """The tracks a clip keeps: video (track 1) and optional audio (track 2)."""

    video: TrackInfo
    nal_length_size: int
    audio: TrackInfo | None = None
    #: ``"mp4"``, or ``"mov"`` when the audio is G.711 (which the ISO MP4 muxer cannot hold).
    container: str = "mp4"
    #: Positions of the kept tracks in the Tracks element (= PyAV stream indexes).
    video_index: int = 0
    audio_index: int | None = None

    @property
    def hevc(self) -> bool:
        return self.video.codec_id == h265.CODEC_ID


def _by_number(tracks: Sequence[TrackInfo], number: int) -> tuple[int, TrackInfo] | None:
    for index, track in enumerate(tracks):
        if track.number == number:
            return index, track
    return None


def _codec(track: TrackInfo, kind: str) -> Codec | None:
    """The codec of ``track`` if it is a ``kind`` codec a clip takes (its own CodecID, not an alias)."""
    codec = find(track.codec_id, aliases=False)
    return codec if codec is not None and codec.kind == kind else None


def check_clip_tracks(tracks: Sequence[TrackInfo]) -> ClipTracks:
    """Apply the service's track rules; raise a :class:`~kvsmock.media.codecs.ClipMediaError` subclass when one fails.

    Tracks beyond 1 and 2 are left out of the clip.
    """
    found = _by_number(tracks, 1)
    if found is None:
        raise UnsupportedMediaType("The stream has no track 1.")
    video_index, video = found
    video_codec = _codec(video, VIDEO)
    if video_codec is None:
        raise UnsupportedMediaType(
            f"Track 1 has codec {video.codec_id!r}; a clip needs {h264.CODEC_ID} (H.264) or {h265.CODEC_ID} (H.265)."
        )
    audio_found = _by_number(tracks, 2)
    audio_codec = None
    if audio_found is not None:
        audio_codec = _codec(audio_found[1], AUDIO)
        if audio_codec is None:
            raise UnsupportedMediaType(
                f"Track 2 has codec {audio_found[1].codec_id!r}; "
                f"a clip needs {aac.CODEC_ID} (AAC) or {g711.CODEC_ID} (G.711)."
            )
    for _, track in [found] + ([audio_found] if audio_found else []):
        if not track.codec_private:
            raise MissingCodecPrivateData(f"Track {track.number} ({track.codec_id}) has no codec private data.")
    nal_length_size = cast(int, video_codec.check_config(video.codec_private or b""))
    if audio_found is None or audio_codec is None:
        return ClipTracks(video, nal_length_size, video_index=video_index)
    audio_index, audio = audio_found
    audio_codec.check_config(audio.codec_private or b"")
    container = "mov" if audio_codec is g711.CODEC else "mp4"
    return ClipTracks(video, nal_length_size, audio, container, video_index, audio_index)
