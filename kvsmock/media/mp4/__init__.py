"""MP4 (ISO BMFF) at the box level: the box walker (:mod:`.boxes`) and faststart (:mod:`.faststart`)."""

from __future__ import annotations

from .boxes import Box, BoxError, find_box, first_tfdt, iter_boxes, mdhd_timescale, split_boxes
from .faststart import faststart

__all__ = ["Box", "BoxError", "faststart", "find_box", "first_tfdt", "iter_boxes", "mdhd_timescale", "split_boxes"]
