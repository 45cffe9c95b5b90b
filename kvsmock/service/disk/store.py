"""The durable store: the :class:`~kvsmock.service.persistence.Persistence` of ``--data-dir``.

Each change the service reports is written at once (see the package
docstring for what waits for an fsync). A write that fails (a full disk) is
logged; a fragment's failure reaches PutMedia as :class:`StorageError`,
which it answers with ARCHIVAL_ERROR; a resource or usage record that could
not be written is kept pending and written with the next write that works.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable

from ..channels import SignalingChannel
from ..encryption import DataKey, Sealed, Written
from ..fragments import MediaHeader, StoredFragment
from ..identifiers import parse_arn
from ..persistence import StorageError
from ..streams import Stream
from ..usage import ChannelUsage, StreamUsage
from .database import Database
from .group_commit import GroupCommit
from .media_files import MediaFileWriter, MediaFiles
from .records import channel_record, stream_record, tracks_record, usage_record
from .sealed_file import SealedFile
from .writes import Writes

__all__ = ["DiskStore"]

log = logging.getLogger("kvsmock")


class DiskStore:
    """Everything kvsmock keeps, in one data directory (locked while this process uses it)."""

    durable = True

    def __init__(self, directory: str | Path, kvsmock_version: str):
        self.directory = Path(directory)
        self.db = Database(self.directory, kvsmock_version)
        self.files = MediaFiles(self.directory / "media")
        self._commits = GroupCommit(self.db)
        self._headers: dict[tuple[bytes, bytes], int] = {}
        self._pending: dict[str, Callable[[Writes], None]] = {}
        self._pending_lock = threading.Lock()
        #: State kept for other parts of the process (moto's KMS): name -> (snapshot, restore).
        self._externals: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}

    def flush(self) -> None:
        """Return once every change handed to the store so far is written (or has failed)."""
        self._commits.flush()

    def close(self) -> None:
        self._commits.close()
        self._flush_pending()
        self.db.close()

    # ------------------------------------------------------------ resources
    def save_resource(self, resource: Stream | SignalingChannel) -> None:
        if isinstance(resource, Stream):
            kind, record = "stream", stream_record(resource)
        else:
            kind, record = "channel", channel_record(resource)
        text = json.dumps(record)

        def write(conn: Writes) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO resources (arn, kind, account, region, record) VALUES (?, ?, ?, ?, ?)",
                (resource.arn, kind, resource.account_id, resource.region, text),
            )

        self._write(resource.arn, write)

    def delete_resource(self, resource: Stream | SignalingChannel) -> None:
        arn = resource.arn

        def write(conn: Writes) -> None:
            conn.execute("DELETE FROM resources WHERE arn = ?", (arn,))
            if isinstance(resource, Stream):
                for table, column in (("fragments", "stream_arn"), ("stream_media", "arn"), ("data_keys", "stream_arn")):
                    conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (arn,))

        self._write(arn, write)
        if isinstance(resource, Stream):
            self.files.remove_stream(arn)

    def usage_changed(self, usage: StreamUsage | ChannelUsage) -> None:
        arn = usage.stream_arn if isinstance(usage, StreamUsage) else usage.channel_arn
        kind = "stream" if isinstance(usage, StreamUsage) else "channel"
        parsed = parse_arn(arn)
        text = json.dumps(usage_record(usage))

        def write(conn: Writes) -> None:
            conn.insert("INSERT OR REPLACE INTO usage (arn, kind, account, region, record)",
                        (arn, kind, parsed.account_id, parsed.region, text))

        key = "usage " + arn
        step, undo = self._after_pending(write)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, sqlite3.Error):
                self._retry_later({key: write}, exc)
            else:
                log.error("kvsmock failed to write the usage of %s", arn, exc_info=exc)

        # Usage changes with every fragment and every read: it rides on the next commit (a
        # fragment's, or one of the committer's own) and never makes its caller wait for one.
        self._commits.submit(step, failed, undo)

    # ------------------------------------------------------------ fragments
    def media_writer(self, stream_arn: str, number: str) -> MediaFileWriter:
        return self.files.writer(self.files.path(stream_arn, number))

    def store_fragment(self, stream_arn: str, fragment: StoredFragment) -> Any:
        payload = fragment.payload
        path = self.files.path(stream_arn, fragment.number)
        if isinstance(payload, Written):  # written as it arrived (media_writer): what is left is the flush
            assert isinstance(payload.writer, MediaFileWriter) and payload.writer.path == path
            payload.writer.finish(payload.tail)
        elif isinstance(payload, Sealed):
            self.files.write(path, payload.ciphertext)
        else:  # already on disk (never happens twice) or not sealed
            raise StorageError(f"fragment {fragment.number} has no sealed payload to store")
        header_key = (fragment.header.ebml_header, fragment.header.segment_header)
        data_key = payload.data_key
        made: dict[str, Any] = {}  # the header and data-key rows this step inserted (undone on rollback)

        def index(conn: Writes) -> None:
            header_id = self._headers.get(header_key)
            if header_id is None:
                header_id = self._headers[header_key] = made["header"] = _insert_header(conn, fragment.header)
            key_id = data_key.row_id
            if key_id is None:  # a new data key: KMS may have made the key it is wrapped with just now
                key_id = data_key.row_id = conn.execute(
                    "INSERT INTO data_keys (stream_arn, blob, created_at) VALUES (?, ?, ?)",
                    (stream_arn, data_key.blob, data_key.created_at),
                ).lastrowid
                made["key"] = True
                self._snapshot_externals(conn)
            # Deferred (Writes.insert): a group commit sends the rows of all its fragments as one statement each.
            conn.insert(
                "INSERT OR REPLACE INTO fragments",
                (
                    stream_arn, fragment.number, fragment.server_timestamp, fragment.producer_timestamp,
                    fragment.duration_ms, header_id, key_id, payload.nonce, payload.size,
                    payload.stored_size, fragment.tags_after, json.dumps(fragment.producer_tags),
                    fragment.frame_count, fragment.stored_at,
                ),
            )
            conn.insert(
                "INSERT INTO stream_media (arn, next_seq, closed_byte_seconds)", (stream_arn, fragment.seq + 1, 0),
                " ON CONFLICT (arn) DO UPDATE SET next_seq = max(next_seq, excluded.next_seq)",
            )

        step, undo_pending = self._after_pending(index)

        def undo() -> None:
            undo_pending()
            if made.pop("header", None) is not None:
                self._headers.pop(header_key, None)
            if made.pop("key", None):
                data_key.row_id = None

        try:
            self._commits.run(step, undo)
        except sqlite3.Error as exc:
            self.files.remove([path])
            raise StorageError(f"cannot index fragment {fragment.number}: {exc}") from exc
        return SealedFile(
            payload.keys, data_key, payload.nonce, self.files, str(path), payload.stored_size, payload.size
        )

    def fragment_tags_grew(self, stream_arn: str, fragment: StoredFragment) -> None:
        tags_after, pairs = fragment.tags_after, json.dumps(fragment.producer_tags)

        def write(conn: Writes) -> None:
            conn.execute(
                "UPDATE fragments SET tags_after = ?, producer_tags = ? WHERE stream_arn = ? AND number = ?",
                (tags_after, pairs, stream_arn, fragment.number),
            )

        self._write(f"tags {stream_arn} {fragment.number}", write, durable=True)

    def fragments_removed(self, stream_arn: str, fragments: list[StoredFragment], closed_byte_seconds: float) -> None:
        numbers = [(stream_arn, f.number) for f in fragments]

        def write(conn: Writes) -> None:
            conn.executemany("DELETE FROM fragments WHERE stream_arn = ? AND number = ?", numbers)
            conn.execute(
                "UPDATE stream_media SET closed_byte_seconds = ? WHERE arn = ?", (closed_byte_seconds, stream_arn)
            )

        self._write(f"expiry {stream_arn} {fragments[-1].number}", write)
        self.files.remove([self.files.path(stream_arn, f.number) for f in fragments])

    # ------------------------------------------------------------ the rest
    def clock_moved(self, offset: float) -> None:
        self._write("clock", lambda conn: _set_meta(conn, "clock_offset", offset))

    def register_external(self, name: str, snapshot: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        """Keep another part of the process's state (moto's KMS keys) under ``name``."""
        self._externals[name] = (snapshot, restore)

    def external_changed(self, name: str) -> None:
        """The state registered as ``name`` changed: write a new snapshot of it."""
        if name in self._externals:
            value = self._externals[name][0]()
            self._write("external " + name, lambda conn: _set_meta(conn, "external:" + name, value))

    def _snapshot_externals(self, conn: Writes) -> None:
        for name, (snapshot, _) in self._externals.items():
            _set_meta(conn, "external:" + name, snapshot())

    def restore_externals(self) -> None:
        for name, (_, restore) in self._externals.items():
            value = self.db.meta("external:" + name)
            if value is not None:
                restore(value)

    def reset(self) -> None:
        """Forget everything stored (the server's reset)."""
        self.flush()  # nothing handed over before lands after
        with self.db.transaction() as conn:
            for table in ("resources", "usage", "stream_media", "fragments", "data_keys", "headers"):
                conn.execute(f"DELETE FROM {table}")
            conn.execute("DELETE FROM meta WHERE key NOT IN ('format', 'written_by')")
        self._take_pending()
        self._headers.clear()
        self.files.clear()

    # ------------------------------------------------------------ writing
    def _write(self, key: str, write: Callable[[Writes], None], durable: bool = False) -> None:
        """Run ``write`` (after what is pending) in one transaction; if the disk refuses, keep it
        pending under ``key`` (a later write under the same key replaces it)."""
        batch = self._take_pending()
        batch[key] = write
        try:
            with self.db.transaction(durable=durable) as conn:
                for step in batch.values():
                    step(conn)
        except sqlite3.Error as exc:
            self._retry_later(batch, exc)

    def _retry_later(self, batch: dict[str, Callable[[Writes], None]], error: sqlite3.Error) -> None:
        """``batch`` could not be written: say so, and keep it pending for the next write."""
        log.error("kvsmock could not write to %s (%s); will retry with the next write", self.directory, error)
        self._put_back(batch)

    def _after_pending(self, write: Callable[[Writes], None]) -> tuple[
        Callable[[Writes], None], Callable[[], None]
    ]:
        """``write`` as a group-commit step that first writes what is pending, and the undo that puts
        that back pending if the step's transaction is rolled back."""
        taken: dict[str, Callable[[Writes], None]] = {}

        def step(conn: Writes) -> None:
            taken.update(self._take_pending())
            for pending in taken.values():
                pending(conn)
            write(conn)

        def undo() -> None:
            self._put_back(taken)
            taken.clear()

        return step, undo

    def _take_pending(self) -> dict[str, Callable[[Writes], None]]:
        with self._pending_lock:
            pending, self._pending = self._pending, {}
        return pending

    def _put_back(self, batch: dict[str, Callable[[Writes], None]]) -> None:
        with self._pending_lock:
            self._pending = {**batch, **self._pending}

    def _flush_pending(self) -> None:
        batch = self._take_pending()
        if batch:
            try:
                with self.db.transaction() as conn:
                    for step in batch.values():
                        step(conn)
            except sqlite3.Error as exc:
                log.error("kvsmock could not write its last changes to %s: %s", self.directory, exc)


def _insert_header(conn: Writes, header: MediaHeader) -> int:
    cursor = conn.execute(
        "INSERT INTO headers (ebml_header, segment_header, tracks, timecode_scale_ns) VALUES (?, ?, ?, ?)",
        (header.ebml_header, header.segment_header, json.dumps(tracks_record(header)), header.timecode_scale_ns),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def _set_meta(conn: Writes, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))


def data_key_of(row: tuple[Any, ...]) -> DataKey:
    """A data key read back (id, blob, created_at): KMS unwraps it when first used."""
    key = DataKey(bytes(row[1]), row[2])
    key.row_id = row[0]
    return key
