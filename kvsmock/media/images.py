"""Still images from stored Matroska: decode frames at given times, scale, encode JPEG or PNG.

GetImages asks for one image every SamplingInterval. For each fragment that
holds some of those instants, :func:`frames_at` decodes the fragment once,
from its opening keyframe, and keeps for every instant the last frame shown
at or before it. :class:`ImageEncoder` scales a frame (swscale, through
PyAV) and encodes it with FFmpeg's ``mjpeg`` or ``png`` encoder, so no
imaging library beyond PyAV is needed.

Nothing here knows of AWS; failures are :class:`ImageMediaError`.
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable, Sequence, cast

if TYPE_CHECKING:  # pragma: no cover
    from av import VideoFrame
    from av.video.stream import VideoStream

__all__ = ["ImageEncoder", "ImageMediaError", "frames_at", "jpeg_qscale", "output_size"]

FORMATS = ("JPEG", "PNG")


class ImageMediaError(ValueError):
    """The media holds no decodable video where an image was asked for."""


def frames_at(
    mkv: bytes,
    times: Sequence[Fraction | float],
    video_index: int = 0,
    keep: Callable[["VideoFrame"], Any] | None = None,
) -> list[Any]:
    """Decode the video track of ``mkv`` once; for each of ``times`` (seconds on the MKV's
    own timeline; pass Fractions for exact comparisons) the last frame presented at or before it.

    An instant before the first decoded frame gets the first frame. Decoding
    stops at the first frame after the last instant. With ``keep``, each
    chosen frame is passed to it once, while the decoder is still open, and
    the list holds what it returned (an encoded image, say): nothing made
    from a frame outlives the decoder unconverted. Decoding runs without
    frame threading, whose worker threads may still hold frames when the
    loop stops early (a GetImages once hung on that).
    """
    import av

    if not times:
        return []
    order = sorted(range(len(times)), key=lambda i: times[i])
    result: list = [None] * len(times)
    kept: dict[int, tuple[Any, Any]] = {}  # id(frame) -> (frame, what keep made of it)

    def chosen(frame: "VideoFrame") -> Any:
        if keep is None:
            return frame
        held = kept.get(id(frame))
        if held is None:
            held = kept[id(frame)] = (frame, keep(frame))
        return held[1]

    try:
        with av.open(io.BytesIO(mkv), "r", format="matroska") as container:
            if video_index >= len(container.streams) or container.streams[video_index].type != "video":
                raise ImageMediaError("The media has no video track to take an image from.")
            stream = cast("VideoStream", container.streams[video_index])
            stream.thread_type = av.codec.context.ThreadType.SLICE
            previous = None
            k = 0
            for frame in container.decode(stream):
                if frame.pts is None or frame.time_base is None:
                    continue
                t = frame.pts * frame.time_base  # exact (a Fraction)
                while k < len(order) and times[order[k]] < t:
                    result[order[k]] = chosen(previous if previous is not None else frame)
                    k += 1
                previous = frame
                if k == len(order):
                    break
            if previous is None:
                raise ImageMediaError("No video frame could be decoded.")
            for i in order[k:]:
                result[i] = chosen(previous)
    except av.error.FFmpegError as err:
        raise ImageMediaError(f"The media could not be decoded: {err}") from None
    return result


def output_size(width: int, height: int, want_width: int | None, want_height: int | None) -> tuple[int, int]:
    """The image size: both given stretches, one given keeps the aspect ratio, neither keeps the frame's."""
    if want_width and want_height:
        return want_width, want_height
    if want_width:
        return want_width, max(1, round(want_width * height / width))
    if want_height:
        return max(1, round(want_height * width / height)), want_height
    return width, height


def jpeg_qscale(quality: int) -> int:
    """FFmpeg's MJPEG quantiser scale (1 best - 31 worst) for a JPEG quality of 1-100.

    Follows libjpeg's quality scaling (quality 50 = the base tables, 100 =
    finest), which FFmpeg's tables scale by ``qscale / 8``.
    """
    quality = min(100, max(1, int(quality)))
    percent = 5000 / quality if quality < 50 else 200 - 2 * quality
    return min(31, max(1, round(percent * 8 / 100)))


class ImageEncoder:
    """Encodes frames as JPEG (``quality`` 1-100) or PNG, at a chosen size."""

    def __init__(self, image_format: str, quality: int = 80):
        if image_format not in FORMATS:
            raise ValueError(f"image format must be one of {FORMATS}")
        self.format = image_format
        self.quality = quality
        self._contexts: dict[tuple[int, int], object] = {}
        self._pts = 0

    def _context(self, width: int, height: int):
        import av

        ctx = self._contexts.get((width, height))
        if ctx is None:
            if self.format == "JPEG":
                ctx = av.CodecContext.create("mjpeg", "w")
                ctx.pix_fmt = "yuvj420p"
                ctx.qmin = ctx.qmax = jpeg_qscale(self.quality)
                ctx.color_range = 2  # full range, as JPEG is
            else:
                ctx = av.CodecContext.create("png", "w")
                ctx.pix_fmt = "rgb24"
            ctx.width, ctx.height = width, height
            ctx.time_base = Fraction(1, 1000)
            self._contexts[(width, height)] = ctx
        return ctx

    def encode(self, frame: "VideoFrame", width: int | None = None, height: int | None = None) -> bytes:
        """The encoded image of ``frame``, scaled per :func:`output_size`."""
        import av

        w, h = output_size(frame.width, frame.height, width, height)
        ctx = self._context(w, h)
        try:
            scaled = frame.reformat(width=w, height=h, format=ctx.pix_fmt)
            scaled.pts = self._pts
            self._pts += 1
            packets = ctx.encode(scaled)
        except av.error.FFmpegError as err:
            raise ImageMediaError(f"The image could not be encoded: {err}") from None
        if not packets:
            raise ImageMediaError("The encoder gave no image.")
        return b"".join(bytes(p) for p in packets)
