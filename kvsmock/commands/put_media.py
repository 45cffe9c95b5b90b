"""``kvsmock put-media``: a producer without an SDK; MKV from a file or a pipe, ACKs printed as they come."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any, Iterator

from botocore.exceptions import ClientError

from ..client import PIECE, put_media_acks
from . import connection
from .connection import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "put-media",
        help="upload MKV from FILE or stdin with PutMedia, printing each ACK as a JSON line as it comes",
    )
    parser.add_argument("file", nargs="?", default="-", metavar="FILE", help="the MKV to upload; - (default): stdin")
    parser.add_argument("--stream", required=True, metavar="NAME", help="the stream's name")
    parser.add_argument("--create", action="store_true", help="create the stream first if it does not exist")
    parser.add_argument(
        "--retention-hours", type=int, default=24, metavar="HOURS",
        help="with --create: the new stream's data retention (default 24)",
    )
    parser.add_argument(
        "--media-type", metavar="TYPE", help="with --create: the new stream's media type (video/h264, for example)"
    )
    parser.add_argument(
        "--timecode-type", choices=["ABSOLUTE", "RELATIVE"], default="ABSOLUTE",
        help="ABSOLUTE (default): cluster timecodes are epoch milliseconds; RELATIVE: counted from the upload's start",
    )
    connection.add_options(parser)
    parser.set_defaults(run=run)


class Progress:
    """The one-line progress report on a terminal's stderr (bytes sent, fragments persisted, time)."""

    def __init__(self, stream: str, enabled: bool):
        self.stream, self.enabled = stream, enabled
        self.sent = self.persisted = 0
        self.started = self._shown = time.monotonic()
        self._lock = threading.Lock()

    def add_sent(self, nbytes: int) -> None:
        self.sent += nbytes
        if time.monotonic() - self._shown >= 0.2:
            self.show()

    def add_ack(self, event: dict[str, Any]) -> None:
        if event.get("EventType") == "PERSISTED":
            self.persisted += 1
        self.show()

    def show(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            self._shown = time.monotonic()
            line = (f"{self.stream}: {self.sent / 1048576:.1f} MiB sent, {self.persisted} fragments persisted, "
                    f"{self._shown - self.started:.0f} s")
            sys.stderr.write(f"\r\x1b[K{line}")
            sys.stderr.flush()

    def clear(self) -> None:
        if self.enabled:
            with self._lock:
                sys.stderr.write("\r\x1b[K")
                sys.stderr.flush()


def _media(path: str, progress: Progress) -> Iterator[bytes]:
    """The upload, piece by piece as it can be read (from a pipe: as the producer writes it)."""
    if path == "-":
        fd = sys.stdin.fileno()
        if os.isatty(fd):
            raise CommandError("put-media reads MKV from FILE or a pipe, and stdin is a terminal")
        opened = None
    else:
        try:
            fd = opened = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None

    def pieces() -> Iterator[bytes]:
        try:
            while piece := os.read(fd, PIECE):  # what is there, without waiting for a full piece
                progress.add_sent(len(piece))
                yield piece
        finally:
            if opened is not None:
                os.close(opened)

    return pieces()


def _create_if_missing(conn: connection.Connection, args: argparse.Namespace) -> None:
    control = conn.control()
    try:
        status = control.describe_stream(StreamName=args.stream)["StreamInfo"]["Status"]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        extra = {"MediaType": args.media_type} if args.media_type else {}
        control.create_stream(StreamName=args.stream, DataRetentionInHours=args.retention_hours, **extra)
        status = control.describe_stream(StreamName=args.stream)["StreamInfo"]["Status"]
    deadline = time.monotonic() + 120
    while status == "CREATING" and time.monotonic() < deadline:  # the real service takes a moment; kvsmock doesn't
        time.sleep(1)
        status = control.describe_stream(StreamName=args.stream)["StreamInfo"]["Status"]


def run(conn: connection.Connection, args: argparse.Namespace) -> int:
    progress = Progress(args.stream, sys.stderr.isatty())
    media = _media(args.file, progress)
    if args.create:
        _create_if_missing(conn, args)
    error: dict[str, Any] | None = None
    try:
        for event in put_media_acks(
            args.stream, media=media, endpoint_url=conn.endpoint_url, region_name=conn.region,
            timecode_type=args.timecode_type, session=conn.session,
        ):
            progress.clear()
            print(json.dumps(event), flush=True)
            if event.get("EventType") == "ERROR" and error is None:
                error = event
            progress.add_ack(event)
    finally:
        progress.clear()
    if error is not None:
        raise CommandError(
            f"ERROR ACK {error.get('ErrorId')} {error.get('ErrorCode', '')}".rstrip()
            + (f" at fragment timecode {error['FragmentTimecode']}" if "FragmentTimecode" in error else "")
        )
    return 0
