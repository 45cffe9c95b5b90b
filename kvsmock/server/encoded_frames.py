"""Encoded frames from an aiortc receiver, taken before its decoder: media kept exactly as the peer sent it.

aiortc's ``RTCRtpReceiver`` depacketizes RTP and reassembles each frame
(a ``JitterFrame``: for H.264 the access unit in Annex-B, for Opus the
packet; its RTP timestamp counted from the stream's first frame), then puts
``(codec, frame)`` on a queue that its decoder thread reads.
:func:`tap_encoded_frames` puts an :class:`EncodedFrameTap` in that queue's
place before the receiver starts: each frame goes to a callback, on the
event loop's thread, and is never decoded (the receiver's track stays
silent). This leans on one private attribute of aiortc's receiver, its
decoder queue (there since aiortc 1.0); the tap refuses loudly if a
future aiortc has none.
"""

from __future__ import annotations

import logging
import queue
from typing import Any, Callable

log = logging.getLogger("kvsmock.signaling")

#: The receiver's decoder queue, as Python mangles its private name.
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"

#: Gets each encoded frame: the codec's RTCRtpCodecParameters, the frame's bytes and RTP timestamp.
FrameSink = Callable[[Any, bytes, int], None]


class EncodedFrameTap(queue.Queue):
    """Stands in for a receiver's decoder queue: frames go to ``sink``; only the stop signal reaches the decoder."""

    def __init__(self, sink: FrameSink):
        super().__init__()
        self._sink = sink
        self._failed = False

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if item is None:  # the receiver stops: let its decoder thread end
            super().put(item, block, timeout)
            return
        codec, frame = item
        try:
            self._sink(codec, bytes(frame.data), int(frame.timestamp))
        except Exception:  # a kvsmock bug must not break aiortc's packet handling
            if not self._failed:
                log.exception("kvsmock could not take an encoded frame from a WebRTC receiver")
            self._failed = True


def tap_encoded_frames(receiver: Any, sink: FrameSink) -> None:
    """Have ``receiver`` (an ``RTCRtpReceiver`` not yet started) hand its encoded frames to ``sink``."""
    if not isinstance(getattr(receiver, _QUEUE_ATTR, None), queue.Queue):
        raise RuntimeError(
            "this aiortc's RTCRtpReceiver has no decoder queue to take encoded frames from; "
            "kvsmock's WebRTC ingestion supports aiortc 1.x"
        )
    setattr(receiver, _QUEUE_ATTR, EncodedFrameTap(sink))
