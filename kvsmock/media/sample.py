"""Sample producer media made with PyAV: real H.264/H.265 (and AAC) in KVS fragments.

:func:`sample_mkv` encodes synthetic frames (a moving colour gradient with
the frame number drawn as a row of black/white blocks, and a sine tone for
audio) with a GOP of one fragment, lets FFmpeg's Matroska muxer put the
packets and codec private data in MKV form (AVCC/HVCC, AudioSpecificConfig),
reads them back, and writes the final stream with
:func:`kvsmock.media.matroska.writer.write_mkv`: one Cluster per fragment, each
opening on a keyframe, as a KVS producer sends it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, cast

from .. import clock
from .codecs import CODECS, VIDEO, Codec, aac
from .ebml import ids
from .matroska.tracks import TrackInfo
from .matroska.writer import Packet, write_mkv

if TYPE_CHECKING:  # pragma: no cover
    from av.audio.stream import AudioStream
    from av.video.stream import VideoStream

__all__ = ["EncodedMedia", "encode_sample", "epoch_ms", "sample_mkv"]

#: The video codecs sample media can be made in, by the ``codec`` argument.
_VIDEO = {codec.name: codec for codec in CODECS if codec.kind == VIDEO and codec.encoders}
_AUDIO_RATE = 48000
_AUDIO_FRAME = 1024


@dataclass(frozen=True)
class EncodedMedia:
    """Encoded sample media: the tracks to declare and the packets, times in ms from 0."""

    tracks: tuple[TrackInfo, ...]
    packets: tuple[Packet, ...]


def epoch_ms(start: datetime | float | int) -> int:
    """Milliseconds since the epoch of a datetime (naive means UTC) or of epoch seconds."""
    if isinstance(start, datetime):
        if start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        return round(start.timestamp() * 1000)
    return round(float(start) * 1000)


def sample_mkv(
    duration_s: float = 10,
    fragment_s: float = 2,
    fps: int = 25,
    width: int = 320,
    height: int = 240,
    codec: str = "h264",
    audio: bool = False,
    start: datetime | float | int | None = None,
) -> bytes:
    """A real producer-style MKV: ``duration_s`` of video cut into ``fragment_s`` fragments.

    ``codec`` is ``"h264"`` or ``"h265"``; ``audio`` adds an AAC track 2.
    The Cluster timecodes are epoch milliseconds counted from ``start`` (a
    datetime, naive means UTC, or epoch seconds); without it, from the
    current kvsmock clock time (:func:`kvsmock.clock.now`, which follows
    freezegun), so the media suits ``put_media()``'s default ABSOLUTE
    timecodes. For RELATIVE timecodes (counted from the PutMedia
    ``producer_start_timestamp``) pass ``start=0``.
    """
    media = encode_sample(float(duration_s), float(fragment_s), int(fps), int(width), int(height), codec, bool(audio))
    return write_mkv(media.tracks, media.packets, start_ms=epoch_ms(clock.now() if start is None else start))


def _encoder(name: str) -> tuple[str, Codec]:
    """The PyAV encoder to use for the video codec ``name``, and that codec."""
    import av

    if name not in _VIDEO:
        raise ValueError(f"codec must be one of {sorted(_VIDEO)}, not {name!r}")
    codec = _VIDEO[name]
    for encoder in codec.encoders:
        if encoder in av.codecs_available:
            try:
                av.codec.Codec(encoder, "w")
            except Exception:  # noqa: BLE001 - a decoder-only build
                continue
            return encoder, codec
    raise RuntimeError(f"no {name} encoder in this PyAV build")


def _picture(index: int, width: int, height: int, np):
    """A moving gradient with the frame number as 16 black/white blocks along the top."""
    x = np.arange(width, dtype=np.uint16)[None, :]
    y = np.arange(height, dtype=np.uint16)[:, None]
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = (x + index * 4) % 256
    image[:, :, 1] = (y + index * 2) % 256
    image[:, :, 2] = ((x + y) // 2 + index * 3) % 256
    block = max(2, width // 16)
    bar = max(2, height // 12)
    for bit in range(16):
        image[:bar, bit * block : (bit + 1) * block] = 255 if index >> (15 - bit) & 1 else 0
    return image


@lru_cache(maxsize=16)
def encode_sample(
    duration_s: float, fragment_s: float, fps: int, width: int, height: int, codec: str, audio: bool
) -> EncodedMedia:
    """Encode the synthetic sample with PyAV (cached: the same arguments give the same packets)."""
    import av
    import numpy as np

    encoder, video_codec = _encoder(codec)
    frames = max(1, round(duration_s * fps))
    gop = max(1, round(fragment_s * fps))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        video = cast("VideoStream", output.add_stream(encoder, rate=fps))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        options: dict[str, object] = {"g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "0"}
        if encoder == "libx264":
            options.update({"preset": "veryfast", "crf": "30", "forced-idr": "1"})
        elif encoder == "libx265":
            options.update(
                {
                    "preset": "veryfast",
                    "crf": "32",
                    "x265-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:log-level=error",
                }
            )
        video.options = options
        sound = None
        if audio:  # every stream must exist before the first packet is muxed
            sound = cast("AudioStream", output.add_stream(aac.CODEC.encoders[0], rate=_AUDIO_RATE))
            sound.layout = "mono"
        for index in range(frames):
            picture = av.VideoFrame.from_ndarray(_picture(index, width, height, np), format="rgb24")
            picture.pts, picture.time_base = index, Fraction(1, fps)
            output.mux(video.encode(picture))
        output.mux(video.encode())
        if sound is not None:
            total = round(duration_s * _AUDIO_RATE)
            for first in range(0, total, _AUDIO_FRAME):
                t = np.arange(first, first + _AUDIO_FRAME) / _AUDIO_RATE
                samples = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :]
                tone = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
                tone.sample_rate, tone.pts, tone.time_base = _AUDIO_RATE, first, Fraction(1, _AUDIO_RATE)
                output.mux(sound.encode(tone))
            output.mux(sound.encode())

    buffer.seek(0)
    packets: list[Packet] = []
    tracks: list[TrackInfo] = []
    with av.open(buffer, "r") as source:
        numbers: dict[int, int] = {}
        for stream in source.streams:
            number = len(numbers) + 1
            numbers[stream.index] = number
            extradata = bytes(stream.codec_context.extradata or b"") or None
            if stream.type == "video":
                tracks.append(
                    TrackInfo(
                        number,
                        video_codec.codec_id,
                        ids.TRACK_TYPE_VIDEO,
                        extradata,
                        name="video",
                        default_duration=round(1e9 / fps),
                        width=width,
                        height=height,
                    )
                )
            else:
                tracks.append(
                    TrackInfo(
                        number,
                        aac.CODEC_ID,
                        ids.TRACK_TYPE_AUDIO,
                        extradata,
                        name="audio",
                        sampling_rate=float(_AUDIO_RATE),
                        channels=1,
                    )
                )
        for packet in source.demux():
            if packet.size == 0 or packet.pts is None or packet.pts < 0:
                continue  # flush packets, and the AAC priming packet before time 0
            packets.append(
                Packet(
                    numbers[packet.stream.index],
                    round(packet.pts * packet.time_base * 1000),
                    bool(packet.is_keyframe),
                    bytes(packet),
                )
            )
    return EncodedMedia(tuple(tracks), tuple(packets))
