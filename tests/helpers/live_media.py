"""Real media as a WebRTC sender sends it: H.264 access units (Annex-B, parameter sets in band) and Opus packets."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from kvsmock.media.audio_transcode import OpusToAac
from kvsmock.media.live_mkv import LiveAudio

FPS = 25


def access_units(count: int, width: int = 176, height: int = 144, gop: int = 10) -> list[bytes]:
    """Annex-B access units from libx264, an IDR (with SPS and PPS) every ``gop`` frames, at FPS."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, FPS)
    codec.framerate = Fraction(FPS, 1)
    codec.gop_size = gop
    codec.options = {"tune": "zerolatency", "preset": "ultrafast", "keyint_min": str(gop), "sc_threshold": "0"}
    codec.profile = "Baseline"
    units = []
    for index in range(count):
        image = np.full((height, width, 3), index * 7 % 256, dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        units += [bytes(p) for p in codec.encode(frame)]
    units += [bytes(p) for p in codec.encode(None)]
    return units


def opus_packets(count: int) -> list[tuple[int, bytes]]:
    """``count`` 20 ms Opus packets of a tone (48 kHz stereo, as WebRTC sends them), with their pts."""
    codec = av.CodecContext.create("libopus", "w")
    codec.sample_rate, codec.layout, codec.format = 48000, "stereo", "s16"
    codec.time_base = Fraction(1, 48000)
    codec.bit_rate = 64000
    out = []
    for index in range(count):
        t = (np.arange(960) + index * 960) / 48000
        tone = (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2)[None, :], format="s16", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, index * 960, Fraction(1, 48000)
        out += [(index * 960, bytes(p)) for p in codec.encode(frame)]
    return out


def aac_track(opus_count: int = 200) -> tuple[LiveAudio, list[bytes]]:
    """The AAC track description and ``opus_count`` x 20 ms of tone, sent as Opus and made into AAC."""
    transcoder = OpusToAac()
    frames = [f.data for pts, data in opus_packets(opus_count) for f in transcoder.feed(pts, data)]
    assert transcoder.errors == 0
    encoder = transcoder.encoder
    return LiveAudio(encoder.codec_private, 48000, 2, encoder.frame_ms, encoder.silence), frames
