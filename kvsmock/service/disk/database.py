"""The data directory's lock and its SQLite index: opening, format checks, transactions."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Iterator

from .writes import Writes

__all__ = ["FORMAT", "Database", "DataDirError"]

#: The on-disk format this kvsmock writes. A directory of an older format is
#: migrated (see ``_MIGRATIONS``); one of a newer format is refused.
FORMAT = 1

INDEX = "index.sqlite3"
LOCK = "kvsmock.lock"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE resources (
    arn TEXT PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, record TEXT NOT NULL
);
CREATE TABLE usage (
    arn TEXT PRIMARY KEY, kind TEXT NOT NULL, account TEXT NOT NULL, region TEXT NOT NULL, record TEXT NOT NULL
);
CREATE TABLE stream_media (
    arn TEXT PRIMARY KEY, next_seq INTEGER NOT NULL, closed_byte_seconds REAL NOT NULL
);
CREATE TABLE headers (
    id INTEGER PRIMARY KEY, ebml_header BLOB NOT NULL, segment_header BLOB NOT NULL,
    tracks TEXT NOT NULL, timecode_scale_ns INTEGER NOT NULL
);
CREATE TABLE data_keys (
    id INTEGER PRIMARY KEY, stream_arn TEXT NOT NULL, blob BLOB NOT NULL, created_at REAL NOT NULL
);
CREATE TABLE fragments (
    stream_arn TEXT NOT NULL,
    number TEXT NOT NULL,
    server_timestamp REAL NOT NULL,
    producer_timestamp REAL NOT NULL,
    duration_ms INTEGER NOT NULL,
    header_id INTEGER NOT NULL REFERENCES headers(id),
    data_key_id INTEGER NOT NULL REFERENCES data_keys(id),
    nonce BLOB NOT NULL,
    size INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    tags_after BLOB NOT NULL,
    producer_tags TEXT NOT NULL,
    frame_count INTEGER NOT NULL,
    stored_at REAL NOT NULL,
    PRIMARY KEY (stream_arn, number)
) WITHOUT ROWID;
"""

#: Steps from format N to N + 1, by N (none yet: format 1 is the first).
_MIGRATIONS: dict[int, str] = {}


class DataDirError(Exception):
    """The data directory cannot be used (in use, of a newer format, damaged); the message says why."""


class Database:
    """The index of one data directory, held open (and locked) by this process.

    One connection, shared by every thread under a lock; every write is one
    transaction (:meth:`transaction`).
    """

    def __init__(self, directory: Path, kvsmock_version: str):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._lock_file = _take_lock(directory)
        try:
            self._conn = self._open(kvsmock_version)
        except BaseException:
            self._lock_file.close()
            raise
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    def _open(self, kvsmock_version: str) -> sqlite3.Connection:
        path = self.directory / INDEX
        fresh = not path.exists()
        if fresh and (self.directory / "media").exists():
            raise DataDirError(f"{self.directory} has media but no {INDEX}: it is damaged; kvsmock will not guess.")
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if fresh:
                with _transaction(conn):
                    _create(conn)
                    _set_meta(conn, "format", FORMAT)
                    _set_meta(conn, "written_by", kvsmock_version)
            else:
                result = conn.execute("PRAGMA quick_check").fetchone()[0]
                if result != "ok":
                    raise DataDirError(f"the index {path} is corrupt ({result}); restore it from a backup or start afresh")
                _migrate(conn, path, kvsmock_version)
        except sqlite3.DatabaseError as exc:
            raise DataDirError(f"the index {path} cannot be read: {exc}; it is not a kvsmock index or it is corrupt") from None
        return conn

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()
        self._lock_file.close()

    # ------------------------------------------------------------------ access
    @contextlib.contextmanager
    def transaction(self, durable: bool = False) -> Iterator[Writes]:
        """One write transaction; with ``durable`` its commit waits for the WAL to reach the disk (fsync)."""
        with self._lock:
            if durable:
                self._conn.execute("PRAGMA synchronous=FULL")
            try:
                with _transaction(self._conn):
                    writes = Writes(self._conn)
                    yield writes
                    writes.flush()
            finally:
                if durable:
                    self._conn.execute("PRAGMA synchronous=NORMAL")

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def meta(self, key: str) -> Any:
        found = self.rows("SELECT value FROM meta WHERE key = ?", key)
        return json.loads(found[0][0]) if found else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as conn:
            _set_meta(conn, key, value)


def _create(conn: sqlite3.Connection) -> None:
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:  # SQLite has already rolled back after some errors (SQLITE_FULL)
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _set_meta(conn: sqlite3.Connection | Writes, key: str, value: Any) -> None:
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))


def _migrate(conn: sqlite3.Connection, path: Path, kvsmock_version: str) -> None:
    """Bring an existing index to :data:`FORMAT`, or refuse one this kvsmock cannot read."""
    try:
        found = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        writer = conn.execute("SELECT value FROM meta WHERE key = 'written_by'").fetchone()
    except sqlite3.OperationalError:
        found = writer = None
    if found is None:
        raise DataDirError(f"{path} is not a kvsmock index (it has no format record)")
    fmt = json.loads(found[0])
    by = json.loads(writer[0]) if writer else "an unknown version"
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise DataDirError(
            f"{path.parent} was written by kvsmock {by} in data format {fmt}; this kvsmock {kvsmock_version} "
            f"reads formats up to {FORMAT}. Use that kvsmock version or a newer one, or another --data-dir."
        )
    while fmt < FORMAT:
        if fmt not in _MIGRATIONS:
            raise DataDirError(f"{path.parent} is in data format {fmt}, which this kvsmock cannot migrate")
        with _transaction(conn):
            for statement in _MIGRATIONS[fmt].split(";"):
                if statement.strip():
                    conn.execute(statement)
            fmt += 1
            _set_meta(conn, "format", fmt)
    with _transaction(conn):
        _set_meta(conn, "written_by", kvsmock_version)


def _take_lock(directory: Path) -> Any:
    """Hold the directory's lock file for as long as the process uses it; refuse if another holds it."""
    handle = open(directory / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "unknown"
        handle.close()
        raise DataDirError(
            f"{directory} is in use by another kvsmock server (pid {holder}); stop it or choose another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
