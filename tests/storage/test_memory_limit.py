"""The in-memory store's budget: past it, the oldest media moves to temporary files and still reads back."""

from __future__ import annotations

import os

import pytest

from kvsmock import clock
from kvsmock.service import encryption, persistence
from kvsmock.service.disk.sealed_file import SealedFile
from kvsmock.service.encryption import Sealed
from kvsmock.service.fragments import MediaHeader, StoredFragment
from kvsmock.service.spill import SpillingMemory, parse_size
from kvsmock.service.streams import Stream

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam/1700000000000"


@pytest.fixture
def memory(monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    budget = SpillingMemory(limit=2500)
    monkeypatch.setattr(persistence, "_current", budget)
    yield budget
    budget.reset()


def add(stream: Stream, data: bytes) -> StoredFragment:
    fragment = StoredFragment(
        number=stream.store.next_number(), server_timestamp=clock.now(), producer_timestamp=clock.now(),
        duration_ms=2000, header=MediaHeader(b"ebml", b"segment", ()), payload=stream.keys.seal([data]),
    )
    stream.store.add(fragment)
    return fragment


def test_the_oldest_media_spills_and_reads_back(memory):
    stream = Stream(name="cam", arn=ARN, region="us-east-1", account_id="123456789012", creation_time=1.0,
                    kms_key_id="key", data_retention_hours=1)
    sent = [os.urandom(1000) for _ in range(5)]
    fragments = [add(stream, data) for data in sent]
    assert [type(f.payload) for f in fragments] == [SealedFile] * 3 + [Sealed] * 2
    assert memory.held_bytes <= 2500 and memory.spilled_fragments == 3
    assert [f.cluster for f in fragments] == sent  # spilled or not, the same bytes
    spilled = sorted(p.name for p in memory.spill_dir.rglob("*.frag"))
    assert spilled == sorted(f"{f.number}.frag" for f in fragments[:3])
    assert stream.store.stored_bytes == sum(len(d) + 16 for d in sent)

    stream.store.clear()  # the stream is deleted: its spilled files go too
    assert list(memory.spill_dir.rglob("*.frag")) == []
    assert memory.held_bytes == 0


def test_no_limit_keeps_everything_in_memory(monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    monkeypatch.setattr(persistence, "_current", SpillingMemory(limit=None))
    stream = Stream(name="cam", arn=ARN, region="us-east-1", account_id="123456789012", creation_time=1.0,
                    kms_key_id="key", data_retention_hours=1)
    assert all(isinstance(add(stream, os.urandom(1000)).payload, Sealed) for _ in range(5))


@pytest.mark.parametrize("text, size", [("512M", 512 * 1024**2), ("2G", 2 * 1024**3), ("1500000", 1_500_000),
                                        ("1.5GiB", int(1.5 * 1024**3)), ("unlimited", None)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "5X", "-1G"])
def test_bad_sizes(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_the_server_spills_past_its_memory_limit_and_serves_everything():
    """``kvsmock server --memory-limit 1M``: 3 MB stored, all of it read back; the spill files are named in the log."""
    from pathlib import Path

    from conftest_plugin import KvsServer
    from kvsmock import put_media, read_fragments
    from kvsmock.media import ebml
    from kvsmock.media.matroska import Packet, TrackInfo, write_mkv

    track = TrackInfo(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x42\x00\x1e\xff\xe1\x00\x00\x01\x00\x00",
                      width=64, height=64)
    start = int(clock.now() * 1000)
    packets = [Packet(1, start + i * 40, i % 25 == 0, os.urandom(40_000)) for i in range(75)]  # 3 x 1 MB fragments
    server = KvsServer(extra_args=["--memory-limit", "1M", "--tls", "off"])
    try:
        server.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
        acks = put_media("cam", media=write_mkv([track], packets), endpoint_url=server.endpoint_url,
                         session=server.session())
        numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
        assert len(numbers) == 3
        line = next(line for line in server.read_log().splitlines() if "spills to" in line)
        spill_dir = Path(line.rsplit("spills to ", 1)[1].strip())
        assert len(list(spill_dir.rglob("*.frag"))) == 2  # the newest stays in memory
        body = server.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
            StreamName="cam", Fragments=numbers)["Payload"].read()
        assert [fr.data for f in read_fragments(body) for fr in f.frames] == [p.data for p in packets]
    finally:
        server.stop()
