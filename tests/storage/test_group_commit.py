"""Group commit: steps queued while a commit runs share the next transaction; a bad step fails alone."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from kvsmock import clock
from kvsmock.service import encryption, persistence
from kvsmock.service.disk.database import Database
from kvsmock.service.disk.group_commit import GroupCommit
from kvsmock.service.disk.store import DiskStore
from kvsmock.service.fragments import MediaHeader, StoredFragment
from kvsmock.service.streams import Stream


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path, "test")
    with database.transaction() as conn:
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY)")
    yield database
    database.close()


def insert(k: int):
    return lambda conn: conn.execute("INSERT INTO t VALUES (?)", (k,))


def deferred_insert(k: int):
    """The row sent with the batch's other rows of the same insert, when the transaction ends."""
    return lambda conn: conn.insert("INSERT INTO t", (k,))


class Queued(list):
    """A commit queue that says when ``count`` steps have joined it (put in while a commit is held)."""

    def __init__(self, count: int):
        super().__init__()
        self.count = count
        self.full = threading.Event()

    def append(self, job) -> None:
        super().append(job)
        if len(self) >= self.count:
            self.full.set()


def queue_of(commits: GroupCommit, count: int) -> Queued:
    """Watch the steps queued behind the commit running now (the lock keeps the swap safe)."""
    queued = Queued(count)
    with commits._lock:
        assert not commits._queue
        commits._queue = queued
    return queued


def test_steps_queued_during_a_commit_share_the_next_one(db):
    commits = GroupCommit(db)
    entered, release = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection) -> None:
        entered.set()
        assert release.wait(10)
        conn.execute("INSERT INTO t VALUES (0)")

    threads = [threading.Thread(target=commits.run, args=(held,))]
    threads[0].start()
    assert entered.wait(10)
    queued = queue_of(commits, 5)
    threads += [threading.Thread(target=commits.run, args=(insert(k),)) for k in range(1, 6)]
    for thread in threads[1:]:
        thread.start()
    assert queued.full.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert commits.commits == 2  # the first alone, then the five together
    assert [k for (k,) in db.rows("SELECT k FROM t ORDER BY k")] == [0, 1, 2, 3, 4, 5]


@pytest.mark.parametrize("step", [insert, deferred_insert])
def test_a_step_that_cannot_be_written_fails_alone(db, step):
    commits = GroupCommit(db)
    commits.run(step(7))
    entered, release = threading.Event(), threading.Event()
    undone: list[int] = []
    errors: dict[int, BaseException] = {}

    def held(conn: sqlite3.Connection) -> None:
        entered.set()
        assert release.wait(10)

    def run(k: int) -> None:
        try:
            commits.run(step(k), lambda: undone.append(k))
        except sqlite3.Error as exc:
            errors[k] = exc

    first = threading.Thread(target=commits.run, args=(held,))
    first.start()
    assert entered.wait(10)
    queued = queue_of(commits, 3)
    others = [threading.Thread(target=run, args=(k,)) for k in (1, 7, 2)]  # 7 is already there
    for thread in others:
        thread.start()
    assert queued.full.wait(10)
    release.set()
    for thread in [first, *others]:
        thread.join(10)
    assert list(errors) == [7] and isinstance(errors[7], sqlite3.IntegrityError)
    assert sorted(undone) == [1, 2, 7, 7]  # the batch rolled back, then 7 alone again
    assert [k for (k,) in db.rows("SELECT k FROM t ORDER BY k")] == [1, 2, 7]


def test_fragments_stored_at_once_from_many_threads_are_all_durable(tmp_path, monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    store = DiskStore(tmp_path, "test")
    monkeypatch.setattr(persistence, "_current", store)
    streams = [Stream(name=f"cam{i}", arn=f"arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam{i}/1",
                      region="us-east-1", account_id="123456789012", creation_time=1.0, kms_key_id="key",
                      data_retention_hours=1) for i in range(8)]
    for stream in streams:
        store.save_resource(stream)
    start = threading.Barrier(len(streams))

    def camera(stream: Stream) -> None:
        start.wait(10)
        for k in range(5):
            stream.store.add(StoredFragment(
                number=stream.store.next_number(), server_timestamp=clock.now(), producer_timestamp=clock.now(),
                duration_ms=2000, header=MediaHeader(b"ebml", b"segment", ()),
                payload=stream.keys.seal([b"%s %d" % (stream.name.encode(), k)]),
            ))

    threads = [threading.Thread(target=camera, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert store.db.rows("SELECT count(*) FROM fragments")[0][0] == 40
    assert store.db.rows("SELECT count(*) FROM data_keys")[0][0] == 8  # one per stream, not one per fragment
    assert store.db.rows("SELECT count(*) FROM headers")[0][0] == 1
    for stream in streams:
        assert [f.cluster for f in stream.store.snapshot()] == [b"%s %d" % (stream.name.encode(), k) for k in range(5)]
    store.close()


def test_a_submitted_step_is_committed_without_waiting_and_failures_are_told(db):
    commits = GroupCommit(db)
    failures: list[BaseException] = []
    entered, release = threading.Event(), threading.Event()

    def held(conn: sqlite3.Connection) -> None:
        entered.set()
        assert release.wait(10)

    first = threading.Thread(target=commits.run, args=(held,))
    first.start()
    assert entered.wait(10)
    commits.submit(insert(1), failures.append)  # returns while the commit before it runs
    commits.submit(insert(1), failures.append)  # cannot be written: told, not raised
    assert commits.waiting == 2 and failures == []
    release.set()
    first.join(10)
    commits.flush()
    assert len(failures) == 1 and isinstance(failures[0], sqlite3.IntegrityError)
    assert db.rows("SELECT k FROM t") == [(1,)]
    commits.submit(insert(2), failures.append)
    commits.close()  # commits what was submitted first
    assert [k for (k,) in db.rows("SELECT k FROM t ORDER BY k")] == [1, 2]
