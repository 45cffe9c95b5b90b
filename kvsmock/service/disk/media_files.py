"""The fragments' bytes on disk: one file per fragment, written durably, read back checked."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Iterator

from ..blocking_waits import waiting_on_disk
from ..persistence import CorruptMediaError, StorageError

__all__ = ["MediaFileWriter", "MediaFiles", "stream_dir_name"]

log = logging.getLogger("kvsmock")

SUFFIX = ".frag"


def stream_dir_name(stream_arn: str) -> str:
    """The directory of a stream's fragments: 16 hex digits of the SHA-256 of its ARN."""
    return hashlib.sha256(stream_arn.encode()).hexdigest()[:16]


class MediaFiles:
    """``DIR/media``: a directory per stream, a file per fragment."""

    def __init__(self, root: Path):
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, stream_arn: str, number: str) -> Path:
        return self.root / stream_dir_name(stream_arn) / f"{number}{SUFFIX}"

    def write(self, path: Path, data: bytes | bytearray | memoryview, durable: bool = True) -> None:
        """Write ``data`` to ``path`` and flush it (:class:`MediaFileWriter`); ``durable``: its directory too.

        Raises :class:`StorageError` (and leaves no file) if the disk refuses.
        """
        self.writer(path, durable).finish(data)

    def writer(self, path: Path, durable: bool = True) -> MediaFileWriter:
        """A writer for the file at ``path``, to be written piece by piece (``durable``: its directory entry
        is flushed too)."""
        return MediaFileWriter(self.root, path, durable)

    def read(self, path: str | Path, size: int) -> bytes:
        """The bytes of ``path``, checked against the size they were written with (their
        AES-GCM tag checks the bytes themselves when they are opened)."""
        try:
            with open(path, "rb") as handle:
                data = handle.read(size + 1)
        except FileNotFoundError:
            raise CorruptMediaError(f"the media file {path} is missing") from None
        if len(data) != size:
            raise CorruptMediaError(f"the media file {path} is damaged ({len(data)} bytes; written as {size})")
        return data

    @staticmethod
    def remove(paths: list[Path]) -> None:
        for path in paths:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def remove_stream(self, stream_arn: str) -> None:
        shutil.rmtree(self.root / stream_dir_name(stream_arn), ignore_errors=True)

    def clear(self) -> None:
        """Delete every fragment's file."""
        for path in list(self.root.iterdir()):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)

    def all_files(self) -> Iterator[Path]:
        """Every file under ``media`` (for the start-up check)."""
        for stream_dir in self.root.iterdir():
            if stream_dir.is_dir():
                yield from stream_dir.iterdir()
            else:
                yield stream_dir

    def size_on_disk(self) -> int:
        return sum(p.stat().st_size for p in self.all_files())


class MediaFileWriter:
    """One media file, written piece by piece as its fragment's sealed bytes are made.

    Each piece is handed to the kernel to write back at once, and then
    dropped from the page cache: media is written once and read back rarely,
    and a cache that grows by every fragment makes the kernel take fresh
    pages for each one (on a VM whose host backs guest memory lazily, about
    3 ms of CPU per MB written, five times the cost of the flush). By the
    time the fragment is complete most of it is on disk, and :meth:`finish`
    has little left to flush. A ``durable`` file's directory is flushed as
    soon as the file is made, so its entry is on disk long before the
    fragment is acknowledged. A write that fails is remembered and raised by
    :meth:`finish`; :meth:`abort` removes what was written.
    """

    __slots__ = ("root", "path", "durable", "written", "_fd", "_failure")

    def __init__(self, root: Path, path: Path, durable: bool = True):
        self.root = root
        self.path = path
        self.durable = durable
        #: Bytes written so far.
        self.written = 0
        self._fd: int | None = None
        self._failure: OSError | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """The next bytes, handed to the kernel's write-back at once."""
        start = self.written
        fd = self._put(data)
        if fd is not None and self.written > start:
            try:
                os.posix_fadvise(fd, start, self.written - start, os.POSIX_FADV_DONTNEED)
            except OSError as exc:
                self._failure = OSError(exc.errno, exc.strerror)

    def _put(self, data: bytes | bytearray | memoryview) -> int | None:
        """Write ``data`` at the end; the file's descriptor, or None after a failure (kept for :meth:`finish`)."""
        if self._failure is not None:
            return None
        try:
            fd = self._fd if self._fd is not None else self._open()
            view = memoryview(data)
            while view:
                count = os.write(fd, view)
                view, self.written = view[count:], self.written + count
            return fd
        except OSError as exc:  # kept without its traceback, which would hold ``data`` (a view of the caller's buffer)
            self._failure = OSError(exc.errno, exc.strerror)
            return None

    def finish(self, last: bytes | bytearray | memoryview = b"") -> None:
        """Write the ``last`` bytes (the flush that follows writes them back) and flush the file; raises
        :class:`StorageError`, leaving no file, if the disk refused any of it."""
        self._put(last)
        try:
            if self._failure is not None:
                raise self._failure
            fd = self._fd if self._fd is not None else self._open()
            self._fd = None
            try:
                with waiting_on_disk():
                    os.fdatasync(fd)  # the pages are clean: the advice below can free them
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot write {self.path}: {exc.strerror or exc}") from exc

    def abort(self) -> None:
        """Give the file up: closed and removed."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        with contextlib.suppress(OSError):
            self.path.unlink()

    def _open(self) -> int:
        parent = self.path.parent
        if not parent.exists():
            parent.mkdir(parents=True, exist_ok=True)
            if self.durable:
                _fsync_dir(self.root)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        if self.durable:
            _fsync_dir(parent)
        return self._fd


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        with waiting_on_disk():
            os.fsync(fd)
    finally:
        os.close(fd)
