"""Opus in, AAC out (PyAV): how a WebRTC storage session's audio is stored.

WebRTC ingestion receives Opus and stores AAC (spec 6.5). :class:`OpusToAac`
decodes Opus packets and encodes the audio again as AAC-LC at the rate and
channel count it was decoded at (48 kHz stereo, as WebRTC decodes Opus);
:class:`AacEncoder` is its encoding half, for decoded audio frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

__all__ = ["AacEncoder", "AacFrame", "OpusToAac"]


@dataclass(frozen=True)
class AacFrame:
    """One encoded AAC frame; ``pts`` counts samples on the input's timeline."""

    pts: int
    data: bytes


class AacEncoder:
    """Encodes decoded audio frames (``av.AudioFrame``, any format PyAV converts) as AAC-LC."""

    def __init__(self, sample_rate: int = 48000, channels: int = 2):
        import av

        self.sample_rate = sample_rate
        self.channels = channels
        self.layout = "mono" if channels == 1 else "stereo"
        self._codec = self._open()
        #: The AudioSpecificConfig (the track's CodecPrivate).
        self.codec_private = bytes(self._codec.extradata or b"")
        #: Samples per AAC frame.
        self.frame_samples = int(self._codec.frame_size or 1024)
        self._resampler = av.AudioResampler(
            format="fltp", layout=self.layout, rate=sample_rate, frame_size=self.frame_samples
        )
        #: One AAC frame of silence (for spans no audio came for).
        self.silence = self._silent_frame()

    @property
    def frame_ms(self) -> float:
        """One AAC frame's duration in milliseconds."""
        return self.frame_samples * 1000 / self.sample_rate

    def encode(self, frame: Any) -> list[AacFrame]:
        """The AAC frames a decoded audio frame (with its pts) completes."""
        out: list[AacFrame] = []
        for resampled in self._resampler.resample(frame):
            for packet in self._codec.encode(resampled):
                out.append(self._frame(packet))
        return out

    def _open(self) -> Any:
        import av

        codec = av.CodecContext.create("aac", "w")
        codec.sample_rate = self.sample_rate
        codec.layout = self.layout
        codec.format = "fltp"
        codec.time_base = Fraction(1, self.sample_rate)
        codec.open()
        return codec

    def _frame(self, packet: Any) -> AacFrame:
        pts = packet.pts or 0
        if packet.time_base is not None and packet.time_base != Fraction(1, self.sample_rate):
            pts = round(pts * packet.time_base * self.sample_rate)
        return AacFrame(int(pts), bytes(packet))

    def _silent_frame(self) -> bytes:
        import av
        import numpy as np

        codec = self._open()
        packets = []
        for index in range(3):
            samples = np.zeros((self.channels, self.frame_samples), dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=self.layout)
            frame.sample_rate, frame.pts = self.sample_rate, index * self.frame_samples
            frame.time_base = Fraction(1, self.sample_rate)
            packets += codec.encode(frame)
        packets += codec.encode(None)
        return bytes(packets[1] if len(packets) > 1 else packets[0])


class OpusToAac:
    """Decodes Opus packets (48 kHz, as RTP carries them) and encodes the audio as AAC."""

    SAMPLE_RATE = 48000

    def __init__(self, channels: int = 2):
        import av

        self._decoder = av.CodecContext.create("libopus" if "libopus" in av.codecs_available else "opus", "r")
        self._decoder.format = "s16"
        self._decoder.layout = "mono" if channels == 1 else "stereo"
        self._decoder.sample_rate = self.SAMPLE_RATE
        self.encoder = AacEncoder(self.SAMPLE_RATE, channels)
        #: Opus packets that could not be decoded.
        self.errors = 0

    def feed(self, pts: int, data: bytes) -> list[AacFrame]:
        """One Opus packet, ``pts`` in 48 kHz samples; returns the AAC frames it completes."""
        import av

        packet = av.Packet(data)
        packet.pts, packet.time_base = pts, Fraction(1, self.SAMPLE_RATE)
        try:
            frames = self._decoder.decode(packet)
        except av.FFmpegError:
            self.errors += 1
            return []
        out: list[AacFrame] = []
        for frame in frames:
            out += self.encoder.encode(frame)
        return out
