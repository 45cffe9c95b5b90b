"""``kvsmock streams``: ListStreams as a table (or JSON lines)."""

from __future__ import annotations

import argparse
from typing import Any

from . import connection
from .table import iso, print_json_line, print_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("streams", help="list the streams (ListStreams): name, status, retention, media type")
    connection.add_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per stream (ListStreams' StreamInfo)")
    parser.set_defaults(run=run)


def run(conn: connection.Connection, args: argparse.Namespace) -> int:
    streams: list[dict[str, Any]] = []
    for page in conn.control().get_paginator("list_streams").paginate():
        streams.extend(page.get("StreamInfoList", []))
    streams.sort(key=lambda s: s["StreamName"])
    if args.json:
        for info in streams:
            print_json_line(info)
        return 0
    print_table(
        ["NAME", "STATUS", "RETENTION (h)", "MEDIA TYPE", "CREATED"],
        (
            [s["StreamName"], s.get("Status", ""), s.get("DataRetentionInHours", 0), s.get("MediaType") or "-",
             iso(s["CreationTime"]) if s.get("CreationTime") else "-"]
            for s in streams
        ),
        right=[2],
    )
    return 0
