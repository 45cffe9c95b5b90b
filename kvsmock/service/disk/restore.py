"""Reading a data directory back into the service's objects at start-up."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ... import clock
from ..backend import KinesisVideoService
from ..encryption import DataKey
from ..fragments import MediaHeader, StoredFragment
from ..streams import Stream
from .records import channel_from_record, stream_from_record, tracks_from_record, usage_from_record
from .sealed_file import SealedFile
from .store import DiskStore, data_key_of

__all__ = ["Restored", "restore"]

log = logging.getLogger("kvsmock")


@dataclass
class Restored:
    """What a start-up read back, and what it had to drop."""

    streams: int = 0
    channels: int = 0
    fragments: int = 0
    #: Index rows dropped because their file was missing or of the wrong size (one message each).
    damaged: list[str] = field(default_factory=list)
    #: Files without an index row (uploads cut before their ACK), deleted.
    orphans: int = 0


def restore(store: DiskStore, backend_for: Callable[[str, str], KinesisVideoService]) -> Restored:
    """Put everything ``store`` keeps back into the backends ``backend_for(account, region)`` gives."""
    out = Restored()
    db = store.db
    offset = db.meta("clock_offset")
    if offset is not None:
        clock.set_time(time.time() + offset)
    streams: dict[str, Stream] = {}
    for arn, kind, account, region, text in db.rows("SELECT arn, kind, account, region, record FROM resources"):
        backend = backend_for(account, region)
        record = json.loads(text)
        if kind == "stream":
            stream = stream_from_record(record)
            backend.streams[stream.name] = streams[arn] = stream
            out.streams += 1
        else:
            channel = channel_from_record(record)
            backend.channels[channel.name] = channel
            out.channels += 1
    for arn, kind, account, region, text in db.rows("SELECT arn, kind, account, region, record FROM usage"):
        backend = backend_for(account, region)
        usage = usage_from_record(kind, json.loads(text))
        owner = streams.get(arn) if kind == "stream" else next(
            (c for c in backend.channels.values() if c.arn == arn), None
        )
        if owner is not None:
            owner.usage = usage
        else:
            backend.deleted_usage.append(usage)
    _restore_fragments(store, streams, out)
    return out


def _restore_fragments(store: DiskStore, streams: dict[str, Stream], out: Restored) -> None:
    db, files = store.db, store.files
    headers = {
        row[0]: MediaHeader(bytes(row[1]), bytes(row[2]), tracks_from_record(json.loads(row[3])), row[4])
        for row in db.rows("SELECT id, ebml_header, segment_header, tracks, timecode_scale_ns FROM headers")
    }
    keys: dict[int, DataKey] = {}
    newest: dict[str, DataKey] = {}
    for row in db.rows("SELECT id, blob, created_at, stream_arn FROM data_keys ORDER BY created_at"):
        keys[row[0]] = newest[row[3]] = data_key_of(row)
    counters = {row[0]: (row[1], row[2]) for row in db.rows("SELECT arn, next_seq, closed_byte_seconds FROM stream_media")}
    kept: dict[str, list[StoredFragment]] = {arn: [] for arn in streams}
    gone: list[tuple[str, str]] = []
    known_files: set[Path] = set()
    rows = db.rows(
        "SELECT stream_arn, number, server_timestamp, producer_timestamp, duration_ms, header_id, data_key_id, "
        "nonce, size, stored_size, tags_after, producer_tags, frame_count, stored_at "
        "FROM fragments ORDER BY stream_arn, number"
    )
    for (arn, number, server_ts, producer_ts, duration_ms, header_id, key_id, nonce, size, stored_size,
         tags_after, producer_tags, frame_count, stored_at) in rows:
        stream = streams.get(arn)
        path = files.path(arn, number)
        if stream is None or header_id not in headers or key_id not in keys:
            gone.append((arn, number))
            continue
        problem = _file_problem(path, stored_size)
        if problem:
            message = f"fragment {number} of {arn}: {problem}; dropped from the index"
            log.error("kvsmock: %s", message)
            out.damaged.append(message)
            gone.append((arn, number))
            continue
        known_files.add(path)
        payload = SealedFile(stream.keys, keys[key_id], bytes(nonce), files, str(path), stored_size, size)
        kept[arn].append(
            StoredFragment(
                number=number,
                server_timestamp=server_ts,
                producer_timestamp=producer_ts,
                duration_ms=duration_ms,
                header=headers[header_id],
                payload=payload,
                tags_after=bytes(tags_after),
                producer_tags=tuple((name, value) for name, value in json.loads(producer_tags)),
                frame_count=frame_count,
                persisted=True,
                stored_at=stored_at,
            )
        )
    if gone:
        with db.transaction() as conn:
            conn.executemany("DELETE FROM fragments WHERE stream_arn = ? AND number = ?", gone)
    for arn, stream in streams.items():
        next_seq, closed = counters.get(arn, (1, 0.0))
        stream.store.restore(kept[arn], next_seq, closed)
        if arn in newest:
            stream.keys.restore_current(newest[arn])
        out.fragments += len(kept[arn])
    for path in list(files.all_files()):
        if path not in known_files:
            path.unlink(missing_ok=True)
            out.orphans += 1
    for directory in list(files.root.iterdir()):
        if directory.is_dir() and not any(directory.iterdir()):
            directory.rmdir()


def _file_problem(path: Path, stored_size: int) -> str | None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return f"its media file {path} is missing"
    if size != stored_size:
        return f"its media file {path} has {size} bytes, not the {stored_size} written (a torn or damaged write)"
    return None
