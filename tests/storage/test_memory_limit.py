"""The in-memory store's budget: past it, the oldest media moves to temporary files and still reads back."""

from __future__ import annotations

import os
import threading

import pytest

from helpers.pools import RecordingPool
from helpers.stored import ARN, new_stream
from helpers.stored import add_fragment as add
from kvsmock import clock
from kvsmock.service import encryption, persistence, spill
from kvsmock.service.blocking_waits import join_pool
from kvsmock.service.disk.media_files import MediaFiles
from kvsmock.service.disk.sealed_file import SealedFile
from kvsmock.service.encryption import Sealed
from kvsmock.service.persistence import StorageError
from kvsmock.service.spill import SpillingMemory, parse_size


@pytest.fixture
def memory(monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    budget = SpillingMemory(limit=2500)
    monkeypatch.setattr(persistence, "_current", budget)
    yield budget
    budget.reset()


class BlockedWrites:
    """``MediaFiles.write`` held up until :meth:`release`: ``started`` is set when the first write begins."""

    def __init__(self, monkeypatch):
        self.started = threading.Event()
        self.released = threading.Event()
        self.threads: list[str] = []
        write = MediaFiles.write

        def blocked_write(files, path, data, durable=True):
            self.threads.append(threading.current_thread().name)
            self.started.set()
            assert self.released.wait(10), "the test never released the write"
            write(files, path, data, durable)

        monkeypatch.setattr(MediaFiles, "write", blocked_write)

    def release(self) -> None:
        self.released.set()


@pytest.fixture
def blocked(monkeypatch):
    monkeypatch.setattr(spill, "SPILL_THREADS", 1)  # one writer: what is queued stays queued while it is held
    writes = BlockedWrites(monkeypatch)
    yield writes
    writes.release()  # even if the test failed: the spill thread must not stay stuck


def test_the_oldest_media_spills_and_reads_back(memory):
    stream = new_stream()
    sent = [os.urandom(1000) for _ in range(5)]
    fragments = [add(stream, data) for data in sent]
    assert memory.settle(10)
    assert [type(f.payload) for f in fragments] == [SealedFile] * 3 + [Sealed] * 2
    assert memory.held_bytes <= 2500 and memory.spilled_fragments == 3
    assert [f.cluster for f in fragments] == sent  # spilled or not, the same bytes
    spilled = sorted(p.name for p in memory.spill_dir.rglob("*.frag"))
    assert spilled == sorted(f"{f.number}.frag" for f in fragments[:3])
    assert stream.store.stored_bytes == sum(len(d) + 16 for d in sent)

    stream.store.clear()  # the stream is deleted: its spilled files go too
    assert list(memory.spill_dir.rglob("*.frag")) == []
    assert memory.held_bytes == 0


def test_the_spill_is_written_on_its_own_thread_without_the_lock(memory, monkeypatch):
    """The storing thread only counts; the file is written by ``kvsmock-spill`` with the budget's lock free."""
    write = MediaFiles.write
    seen = []

    def checked_write(files, path, data, durable=True):
        free = memory._lock.acquire(timeout=10)  # not reentrant: never true if this thread held it
        if free:
            memory._lock.release()
        seen.append((threading.current_thread().name, free, durable))
        write(files, path, data, durable)

    monkeypatch.setattr(MediaFiles, "write", checked_write)
    stream = new_stream()
    fragments = [add(stream, os.urandom(1000)) for _ in range(6)]
    assert memory.settle(10)
    assert seen == [("kvsmock-spill", True, False)] * 4
    assert memory.spilled_fragments == 4 and memory.held_bytes == 2 * 1016 <= memory.limit
    assert [type(f.payload) for f in fragments] == [SealedFile] * 4 + [Sealed] * 2


def test_below_the_limit_nothing_spills_and_no_thread_starts(memory):
    stream = new_stream()
    fragments = [add(stream, os.urandom(1000)) for _ in range(2)]
    assert memory.settle(0)  # nothing queued: settled at once
    assert not memory._threads and memory.spill_dir is None and memory.spilled_fragments == 0
    assert memory.held_bytes == 2 * 1016 and all(isinstance(f.payload, Sealed) for f in fragments)


@pytest.mark.parametrize("how", ["stream deleted", "fragment removed", "reset"])
def test_media_removed_while_its_spill_is_written_leaves_no_file(memory, blocked, how):
    stream = new_stream()
    sent = [os.urandom(1000) for _ in range(3)]
    fragments = [add(stream, data) for data in sent]  # the third pushes the first out
    assert blocked.started.wait(10)
    assert not memory.settle(0)  # the first fragment's write is under way
    if how == "stream deleted":
        stream.store.clear()
    elif how == "fragment removed":
        memory.fragments_removed(ARN, [fragments[0]], 0.0)
    else:
        memory.reset()
    blocked.release()
    assert memory.settle(10)
    assert list(memory.spill_dir.rglob("*.frag")) == []
    assert isinstance(fragments[0].payload, Sealed) and fragments[0].cluster == sent[0]  # not swapped
    assert memory.spilled_fragments == 0
    assert memory.held_bytes == (2 * 1016 if how == "fragment removed" else 0)  # the other two are still held


def test_media_removed_while_queued_is_never_written(memory, blocked):
    stream = new_stream()
    fragments = [add(stream, os.urandom(1000)) for _ in range(4)]  # the first is being written, the second queued
    assert blocked.started.wait(10)
    assert memory.held_bytes == 4 * 1016
    memory.fragments_removed(ARN, [fragments[1]], 0.0)
    assert memory.held_bytes == 3 * 1016  # its bytes left the accounting at once
    blocked.release()
    assert memory.settle(10)
    assert sorted(p.name for p in memory.spill_dir.rglob("*.frag")) == [f"{fragments[0].number}.frag"]
    assert [type(f.payload) for f in fragments] == [SealedFile, Sealed, Sealed, Sealed]
    assert blocked.threads == ["kvsmock-spill"]  # written once: the removed one never was


class RecordedWaits(threading.Condition):
    """A condition that says when someone waits on it."""

    def __init__(self, lock):
        super().__init__(lock)
        self.waiting = threading.Event()

    def wait(self, timeout=None):
        self.waiting.set()
        return super().wait(timeout)


def test_a_store_waits_while_the_spill_backlog_is_past_its_bound(memory, blocked, monkeypatch):
    """Media queued for spilling is still in RAM: past ``SPILL_BACKLOG`` of it, a store waits for the disk."""
    monkeypatch.setattr(spill, "SPILL_BACKLOG", 1500)
    memory._room = room = RecordedWaits(memory._lock)
    stream = new_stream()
    fragments = [add(stream, os.urandom(1000)) for _ in range(4)]  # 1st written (blocked), 2nd queued: 2032 > 1500
    assert blocked.started.wait(10)
    assert memory.held_bytes == 4 * 1016 and not room.waiting.is_set()
    stored = threading.Event()
    late = threading.Thread(target=lambda: (fragments.append(add(stream, os.urandom(1000))), stored.set()))
    late.start()
    try:
        assert room.waiting.wait(10)  # the fifth store waits for the spill thread ...
        assert not stored.is_set() and memory.held_bytes == 4 * 1016
    finally:
        blocked.release()  # ... and goes on once the disk takes the backlog
    late.join(10)
    assert stored.is_set()
    assert memory.settle(10)
    assert memory.spilled_fragments == 3 and memory.held_bytes == 2 * 1016
    assert [type(f.payload) for f in fragments] == [SealedFile] * 3 + [Sealed] * 2


def test_a_store_waiting_for_the_spill_says_it_waits_on_the_disk(memory, blocked, monkeypatch):
    """An upload reader that stores into a full backlog announces the wait, so that another reads meanwhile."""
    monkeypatch.setattr(spill, "SPILL_BACKLOG", 1500)
    memory._room = room = RecordedWaits(memory._lock)
    stream = new_stream()
    pool = RecordingPool()
    stored = threading.Event()

    def store(count: int) -> None:
        join_pool(pool)
        for _ in range(count):
            add(stream, os.urandom(1000))
        stored.set()

    early = threading.Thread(target=store, args=(4,))  # 1st written (blocked), 2nd queued: 2032 > 1500
    early.start()
    early.join(10)
    assert stored.is_set() and blocked.started.wait(10)
    assert pool.calls == []  # none of those stores waited
    stored.clear()
    late = threading.Thread(target=store, args=(1,))
    late.start()
    try:
        assert room.waiting.wait(10)
        assert pool.calls == ["blocked"] and not stored.is_set()
    finally:
        blocked.release()
    late.join(10)
    assert stored.is_set() and pool.calls == ["blocked", "unblocked"]


def test_a_refused_spill_keeps_the_media_in_memory(memory, monkeypatch, caplog):
    def full_disk(files, path, data, durable=True):
        raise StorageError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(MediaFiles, "write", full_disk)
    stream = new_stream()
    sent = [os.urandom(1000) for _ in range(5)]
    fragments = [add(stream, data) for data in sent]
    assert memory.settle(10)
    assert all(isinstance(f.payload, Sealed) for f in fragments) and memory.spilled_fragments == 0
    assert [f.cluster for f in fragments] == sent
    assert caplog.text.count("cannot spill media") == 1  # said once, not per fragment


def test_no_limit_keeps_everything_in_memory(monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    monkeypatch.setattr(persistence, "_current", SpillingMemory(limit=None))
    stream = new_stream()
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
    """``kvsmock server --memory-limit 1M``: 3 MB stored, all of it read back; the spill directory is named in
    the log, and removed when the server stops."""
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
        # Where the media spills is said by the store that passed the limit, before its ACK (which files are
        # written by then is the spill threads' business: test_the_oldest_media_spills_and_reads_back).
        line = next(line for line in server.read_log().splitlines() if "spills to" in line)
        spill_dir = Path(line.rsplit("spills to ", 1)[1].strip())
        assert spill_dir.is_dir()
        body = server.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
            StreamName="cam", Fragments=numbers)["Payload"].read()
        assert [fr.data for f in read_fragments(body) for fr in f.frames] == [p.data for p in packets]
    finally:
        server.stop()
    assert not spill_dir.exists()  # the server removes its spill files when it stops


def test_several_fragments_are_written_at_once(memory, monkeypatch):
    """The spill threads write in parallel: a slow disk (or a busy GIL) does not hold every spill behind one write."""
    both = threading.Barrier(2)
    write = MediaFiles.write

    def meet_then_write(files, path, data, durable=True):
        both.wait(10)  # breaks (and the test fails) unless a second write is under way at the same time
        write(files, path, data, durable)

    monkeypatch.setattr(MediaFiles, "write", meet_then_write)
    stream = new_stream()
    fragments = [add(stream, os.urandom(1000)) for _ in range(4)]
    assert memory.settle(10)
    assert [type(f.payload) for f in fragments] == [SealedFile, SealedFile, Sealed, Sealed]
