"""Opening Matroska for a remux: PyAV reads packets, and FFmpeg never decodes a picture to do it.

FFmpeg probes each stream when it opens a file (``avformat_find_stream_info``)
and, by default, decodes frames to do so. A remux (HLS/DASH segments, GetClip)
copies packets and needs none of that: the decoders are told to skip every
frame while probing, which gives the same streams and the same output at a
fraction of the cost (an H.264 720p fragment: ~9 ms to open, ~0.6 ms).

Used for the HLS/DASH segments of one fragment (fMP4 and TS output checked
byte-identical). Not for GetClip: across several fragments the probe without
decoding leaves FFmpeg's H.264 timing unknown (the packets read while
probing come without a DTS); GetClip opens with :func:`open_probing_little`
instead, which decodes one frame, enough to know whether the video reorders
frames. Not where frames are needed either (GetImages).
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_for_remux", "open_probing_little"]

#: Probe options for every stream a file may hold (a KVS fragment has at most three tracks).
_SKIP_DECODING = [{"skip_frame": "all"}] * 8


def open_for_remux(source: Any, **kwargs: Any) -> Any:
    """``av.open(source, "r", format="matroska", **kwargs)`` with decoding skipped while FFmpeg probes."""
    import av

    # PyAV takes one dict per stream here; its stub says list[str].
    return av.open(source, "r", format="matroska", stream_options=_SKIP_DECODING, **kwargs)  # type: ignore[call-overload]


#: Probe as little as FFmpeg allows: the first packets, one decoded frame.
_LITTLE_PROBE = {"probesize": "32", "analyzeduration": "0"}


def open_probing_little(source: Any, **kwargs: Any) -> Any:
    """``av.open(source, "r", format="matroska", **kwargs)`` probing as little as FFmpeg allows.

    The streams are known as a full probe knows them (codec parameters and
    whether the video reorders frames, ``codec_context.has_b_frames``), at a
    fraction of the cost (a 720p stream: ~10 ms to open, ~3 ms); the first
    packet of a stream may come without a DTS, which for a stream that does
    not reorder frames is its PTS.
    """
    import av

    return av.open(source, "r", format="matroska", options=dict(_LITTLE_PROBE), **kwargs)
