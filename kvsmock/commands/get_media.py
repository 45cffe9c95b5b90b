"""``kvsmock get-media``: GetMedia's MKV bytes to stdout or a file, as they arrive."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Any, BinaryIO

from ..media.get_media.sources import pieces
from . import connection
from .connection import CommandError

PIECE = 64 * 1024


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "get-media",
        help="write a stream's media (GetMedia: MKV with KVS tags) to stdout or --output, until the server ends it",
    )
    parser.add_argument("--stream", required=True, metavar="NAME", help="the stream's name")
    parser.add_argument(
        "--start",
        default="EARLIEST",
        metavar="EARLIEST|NOW|TIMESTAMP",
        help="where to start: EARLIEST (default), NOW, or a timestamp (ISO 8601, UTC unless it has an offset; "
        "or epoch seconds)",
    )
    parser.add_argument(
        "--timestamp-type",
        choices=["server", "producer"],
        default="server",
        help="which timestamp --start TIMESTAMP is: the server's (default) or the producer's",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write to FILE instead of stdout")
    connection.add_options(parser)
    parser.set_defaults(run=run)


def parse_timestamp(text: str) -> datetime:
    """Epoch seconds or ISO 8601 (``Z`` allowed; without an offset, UTC) as an aware datetime."""
    try:
        return datetime.fromtimestamp(float(text), timezone.utc)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        value = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise CommandError(f"--start {text!r} is not EARLIEST, NOW, an ISO 8601 timestamp or epoch seconds") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def start_selector(start: str, timestamp_type: str) -> dict[str, Any]:
    """GetMedia's StartSelector for ``--start`` and ``--timestamp-type``."""
    if start.upper() in ("EARLIEST", "NOW"):
        return {"StartSelectorType": start.upper()}
    return {"StartSelectorType": f"{timestamp_type.upper()}_TIMESTAMP", "StartTimestamp": parse_timestamp(start)}


def _copy(payload: Any, out: BinaryIO) -> None:
    """Copy the response body to ``out`` piece by piece as it arrives (flushed, so a pipe follows it live)."""
    for data in pieces(payload, PIECE):
        out.write(data)
        out.flush()


def run(conn: connection.Connection, args: argparse.Namespace) -> int:
    selector = start_selector(args.start, args.timestamp_type)
    if args.output is None and sys.stdout.isatty():
        raise CommandError("get-media writes binary MKV: redirect stdout (> out.mkv, | player) or give --output FILE")
    client = conn.data("kinesis-video-media", args.stream, "GET_MEDIA")
    payload = client.get_media(StreamName=args.stream, StartSelector=selector)["Payload"]
    try:
        if args.output is not None:
            with open(args.output, "wb") as out:
                _copy(payload, out)
        else:
            _copy(payload, sys.stdout.buffer)
    finally:
        payload.close()
    return 0
