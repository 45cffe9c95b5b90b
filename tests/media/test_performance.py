"""Ingest speed of the fragmenter (run with ``-m slow``; prints MB/s)."""

from __future__ import annotations

import time

import pytest

from kvsmock.media.matroska import Packet, write_mkv
from kvsmock.media.put_media import FragmentComplete, Fragmenter, MediaError
from kvsmock.media.sample import encode_sample


def body_of_about(megabytes: float, **layout) -> tuple[bytes, int]:
    media = encode_sample(10.0, 2.0, 25, 640, 480, "h264", True)
    size = sum(len(p.data) for p in media.packets)
    copies = int(megabytes * 1e6 / size) + 1
    packets = [
        Packet(p.track, p.time_ms + 10_000 * copy, p.keyframe, p.data) for copy in range(copies) for p in media.packets
    ]
    return write_mkv(media.tracks, packets, **layout), 5 * copies


@pytest.mark.slow
@pytest.mark.parametrize("layout", [{}, {"unknown_size_clusters": True, "size_width": 8, "end_of_fragment_tags": True}])
def test_fragmenter_throughput(layout):
    data, expected = body_of_about(20, **layout)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        fragmenter = Fragmenter()
        events = []
        for offset in range(0, len(data), 1 << 16):
            events += fragmenter.feed(data[offset : offset + (1 << 16)])
        events += fragmenter.close()
        best = min(best, time.perf_counter() - started)
    assert not [e for e in events if isinstance(e, MediaError)]
    assert sum(isinstance(e, FragmentComplete) for e in events) == expected
    rate = len(data) / best / 1e6
    print(f"\nfragmenter: {len(data) / 1e6:.1f} MB, {rate:.0f} MB/s ({layout or 'known-size clusters'})")
    assert rate > 50
