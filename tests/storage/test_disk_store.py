"""The durable store when SQLite itself runs out of room: the fragment is refused whole, other writes wait."""

from __future__ import annotations

import json

import pytest

from kvsmock import clock
from kvsmock.service import encryption, persistence
from kvsmock.service.disk.store import DiskStore
from kvsmock.service.fragments import MediaHeader, StoredFragment
from kvsmock.service.persistence import StorageError
from kvsmock.service.streams import Stream

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam/1700000000000"


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setattr(encryption, "_provider", encryption.LocalKeys())
    disk = DiskStore(tmp_path, "test")
    monkeypatch.setattr(persistence, "_current", disk)
    yield disk
    disk.close()


def fragment(stream: Stream, seq: int, tags_after: bytes = b"") -> StoredFragment:
    number = stream.store.next_number()
    assert int(number[-28:]) == seq
    return StoredFragment(
        number=number, server_timestamp=clock.now(), producer_timestamp=clock.now(), duration_ms=2000,
        header=MediaHeader(b"ebml", b"segment", ()), payload=stream.keys.seal([b"cluster %d" % seq]),
        tags_after=tags_after,
    )


def index_full(store: DiskStore) -> None:
    """No page more for the index: SQLite answers SQLITE_FULL ("database or disk is full")."""
    pages = store.db.rows("PRAGMA page_count")[0][0]
    store.db.rows(f"PRAGMA max_page_count = {pages}")


def test_a_full_index_refuses_the_fragment_and_keeps_what_was_stored(store, caplog):
    stream = Stream(name="cam", arn=ARN, region="us-east-1", account_id="123456789012", creation_time=1.0,
                    kms_key_id="key", data_retention_hours=1)
    store.save_resource(stream)
    first = fragment(stream, 1)
    stream.store.add(first)
    index_full(store)
    second = fragment(stream, 2, tags_after=b"\x00" * 200_000)  # its row needs new pages
    with pytest.raises(StorageError, match="database or disk is full"):
        stream.store.add(second)
    assert [f.number for f in stream.store.snapshot()] == [first.number]
    assert [p.stem for p in store.files.root.rglob("*.frag")] == [first.number]  # no file of the refused one
    assert first.cluster == b"cluster 1"

    tags = {f"tag{i}": "v" * 250 for i in range(40)}
    stream.tags.add(tags)
    store.save_resource(stream)  # 10 KB more: cannot be written now, kept pending, logged
    assert "could not write" in caplog.text
    record = json.loads(store.db.rows("SELECT record FROM resources WHERE arn = ?", ARN)[0][0])
    assert record["tags"] == {}

    store.db.rows("PRAGMA max_page_count = 1073741823")  # room again: the next write brings the pending one
    store.usage_changed(stream.usage)
    store.flush()  # usage is written without its caller waiting
    record = json.loads(store.db.rows("SELECT record FROM resources WHERE arn = ?", ARN)[0][0])
    assert record["tags"] == tags


def test_a_fragment_is_written_as_it_arrives_and_removed_if_the_upload_is_cut(store):
    """Half of a 3 MB fragment fed: its file holds a good part of it already; the upload ends: the file goes."""
    from helpers.producers import big_fragment, split_at_clusters
    from kvsmock.service.put_media import PutMediaSession

    stream = _retaining_stream(store)
    header, (cluster,) = split_at_clusters(big_fragment())
    session = PutMediaSession(stream, "ABSOLUTE")
    half = header + cluster[: len(cluster) // 2]
    assert [a["EventType"] for a in _feed(session, half)] == ["BUFFERING"]
    (growing,) = store.files.root.rglob("*.frag")
    assert growing.stat().st_size >= len(cluster) // 3  # its sealed bytes so far, on disk already
    session.finish()  # the client went away: the fragment will never be stored
    assert not growing.exists() and list(store.files.root.rglob("*.frag")) == []
    assert stream.store.snapshot() == []


def test_a_files_directory_is_flushed_when_the_file_is_made_not_before_its_ack(store, monkeypatch):
    from helpers.producers import big_fragment, split_at_clusters
    from kvsmock.service.disk import media_files
    from kvsmock.service.put_media import PutMediaSession

    flushed: list = []
    fsync_dir = media_files._fsync_dir
    monkeypatch.setattr(media_files, "_fsync_dir", lambda path: (flushed.append(path), fsync_dir(path)))
    stream = _retaining_stream(store)
    header, (cluster,) = split_at_clusters(big_fragment())
    session = PutMediaSession(stream, "ABSOLUTE")
    half = len(header) + len(cluster) // 2
    _feed(session, (header + cluster)[:half])
    (growing,) = store.files.root.rglob("*.frag")
    assert growing.parent in flushed  # its directory entry is on disk while the fragment still arrives
    flushed.clear()
    acks = _feed(session, (header + cluster)[half:]) + session.close()
    assert [a["EventType"] for a in acks] == ["RECEIVED", "PERSISTED"]
    assert flushed == []  # the ACK waited for the file and the index, not for the directory again
    (stored,) = stream.store.snapshot()
    assert stored.payload.open() == cluster


def _retaining_stream(store: DiskStore) -> Stream:
    stream = Stream(name="cam", arn=ARN, region="us-east-1", account_id="123456789012", creation_time=1.0,
                    kms_key_id="key", data_retention_hours=24)
    store.save_resource(stream)
    return stream


def _feed(session, data: bytes) -> list[dict]:
    """``data`` fed as a camera sends it, 20 kB at a time; the ACKs."""
    return [a for start in range(0, len(data), 20_000) for a in session.feed(data[start : start + 20_000])]
