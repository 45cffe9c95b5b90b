"""Ingesting well past the retention window keeps stored bytes and the server's memory bounded."""

from __future__ import annotations

import os

import requests

from conftest_plugin import KvsServer
from kvsmock import put_media
from kvsmock.media import ebml
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, write_mkv

STEP_MINUTES = 20  # retention 1 h: three steps of media are kept at most
STEPS = 12
MB = 1024 * 1024


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _media(step: int) -> bytes:
    """Four 1-second fragments of ~1 MB each (random payloads: ingest does not decode)."""
    track = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x42\x00\x1e\xff\xe1\x00\x00\x01\x00\x00", width=64, height=64)
    base = step * STEP_MINUTES * 60 * 1000
    packets = [Packet(1, base + i * 40, i % 25 == 0, os.urandom(40_000)) for i in range(100)]
    return write_mkv([track], packets)


def test_memory_stays_bounded_past_the_retention_window():
    server = KvsServer()
    try:
        server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
        stored, rss = [], []
        for step in range(STEPS):
            acks = put_media("cam", media=_media(step), endpoint_url=server.endpoint_url, session=server.session(),
                             timecode_type="RELATIVE", producer_start_timestamp=1_700_000_000)
            assert [a["EventType"] for a in acks].count("PERSISTED") == 4
            server.advance_clock(STEP_MINUTES * 60)
            report = requests.get(f"{server.endpoint_url}/_kvsmock/usage", timeout=10).json()
            stored.append(next(s["StoredBytes"] for s in report["Streams"] if s["StreamName"] == "cam"))
            rss.append(_rss(server.process.pid))
        step_bytes = 100 * 40_000
        # Measured right after the clock moved 20 minutes: the step an hour old has just expired,
        # so two steps are kept, never more.
        assert all(1.9 * step_bytes <= b <= 2.1 * step_bytes for b in stored[2:]), stored
        assert len(server.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]) == 8
        # The process does not grow with the 48 MB ingested: memory of expired media is reused.
        total = STEPS * step_bytes
        assert rss[-1] - rss[3] < 0.25 * total, [r // MB for r in rss]
    finally:
        server.stop()
