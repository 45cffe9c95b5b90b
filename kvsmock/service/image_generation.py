"""Images of a persisted fragment, as image generation writes them to S3 (spec 4.5).

One image every ``SamplingInterval`` milliseconds from the fragment's start
(server or producer timestamp, per ``ImageSelectorType``) to its end, at the
configured format, JPEG quality and size.
"""

from __future__ import annotations

from typing import Any

from ..media.images import ImageEncoder
from .fragments import StoredFragment
from .stills import fragment_stills
from .streams import Stream

__all__ = ["fragment_images", "sample_times"]

DEFAULT_JPEG_QUALITY = 80


def sample_times(start_ms: int, duration_ms: int, interval_ms: int) -> list[int]:
    """Epoch milliseconds of the images of a fragment: its start, then every interval before its end."""
    return list(range(start_ms, start_ms + max(duration_ms, 1), max(interval_ms, 1)))


def fragment_images(stream: Stream, fragment: StoredFragment, config: dict[str, Any]) -> list[tuple[int, bytes]]:
    """(image time in epoch ms, encoded image) for ``fragment`` under an image generation configuration."""
    producer = config.get("ImageSelectorType") == "PRODUCER_TIMESTAMP"
    start_ms = round((fragment.producer_timestamp if producer else fragment.server_timestamp) * 1000)
    times = sample_times(start_ms, fragment.duration_ms, int(config["SamplingInterval"]))
    quality = int((config.get("FormatConfig") or {}).get("JPEGQuality", DEFAULT_JPEG_QUALITY))
    encoder = ImageEncoder(config["Format"], quality)
    stills = fragment_stills(fragment, start_ms, times, encoder, config.get("WidthPixels"), config.get("HeightPixels"))
    return [(t, image) for t, image in zip(times, stills) if image is not None]
