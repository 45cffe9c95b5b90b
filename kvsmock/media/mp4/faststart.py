"""MP4 faststart: move the ``moov`` box in front of ``mdat`` (like ``-movflags +faststart``).

The remux writes ``moov`` into room reserved in front of ``mdat``; when it
did not fit, the clip is muxed again with ``moov`` last and moved here, the
chunk offsets (``stco``/``co64``) shifted by the size of ``moov``.
"""

from __future__ import annotations

from .boxes import CONTAINERS, iter_boxes

__all__ = ["faststart"]


def _shift_chunk_offsets(moov: bytearray, start: int, end: int, delta: int) -> None:
    import numpy as np

    for kind, _, payload, box_end in iter_boxes(moov, start, end):
        if kind in CONTAINERS:
            _shift_chunk_offsets(moov, payload, box_end, delta)
        elif kind in ("stco", "co64"):
            count = int.from_bytes(moov[payload + 4 : payload + 8], "big")
            width = 4 if kind == "stco" else 8
            first = payload + 8
            last = first + count * width
            dtype = ">u4" if width == 4 else ">u8"
            offsets = np.frombuffer(bytes(moov[first:last]), dtype=dtype).astype(np.uint64) + delta
            if width == 4 and count and int(offsets.max()) >= 1 << 32:
                raise OverflowError("chunk offsets no longer fit stco")
            moov[first:last] = offsets.astype(dtype).tobytes()


def faststart(mp4: bytes | memoryview) -> bytes:
    """Move the ``moov`` box in front of ``mdat`` (like ``-movflags +faststart``), fixing chunk offsets.

    A file already in that order, or one this cannot rearrange, is returned as it is.
    """
    view = memoryview(mp4)
    try:
        top = list(iter_boxes(view))
        kinds = [box.type for box in top]
        if "moov" not in kinds or "mdat" not in kinds or kinds.index("moov") < kinds.index("mdat"):
            return bytes(view)
        moov_box = top[kinds.index("moov")]
        moov = bytearray(view[moov_box.start : moov_box.end])
        _shift_chunk_offsets(moov, moov_box.payload - moov_box.start, len(moov), len(moov))
    except (ValueError, OverflowError):
        return bytes(view)
    # ftyp (and anything before mdat) first, then moov, then the rest without the old moov.
    first_media = top[kinds.index("mdat")].start
    parts: list[bytes | bytearray | memoryview] = [view[:first_media], moov]
    for kind, start, _, end in top:
        if start >= first_media and kind != "moov":
            parts.append(view[start:end])
    return b"".join(parts)
