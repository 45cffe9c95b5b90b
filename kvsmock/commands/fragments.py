"""``kvsmock fragments``: ListFragments (every page) as a table (or JSON lines), in fragment-number order."""

from __future__ import annotations

import argparse
from typing import Any

from . import connection
from .table import iso, print_json_line, print_table


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fragments", help="list a stream's fragments (ListFragments): number, timestamps, duration, size"
    )
    parser.add_argument("--stream", required=True, metavar="NAME", help="the stream's name")
    connection.add_options(parser)
    parser.add_argument("--json", action="store_true", help="one JSON object per fragment (ListFragments' Fragment)")
    parser.set_defaults(run=run)


def run(conn: connection.Connection, args: argparse.Namespace) -> int:
    client = conn.data("kinesis-video-archived-media", args.stream, "LIST_FRAGMENTS")
    fragments: list[dict[str, Any]] = []
    for page in client.get_paginator("list_fragments").paginate(StreamName=args.stream):
        fragments.extend(page.get("Fragments", []))
    fragments.sort(key=lambda f: int(f["FragmentNumber"]))
    if args.json:
        for fragment in fragments:
            print_json_line(fragment)
        return 0
    print_table(
        ["FRAGMENT NUMBER", "PRODUCER TIMESTAMP", "SERVER TIMESTAMP", "DURATION (s)", "SIZE (bytes)"],
        (
            [f["FragmentNumber"], iso(f["ProducerTimestamp"]), iso(f["ServerTimestamp"]),
             f"{f['FragmentLengthInMilliseconds'] / 1000:.3f}", f["FragmentSizeInBytes"]]
            for f in fragments
        ),
        right=[3, 4],
    )
    return 0
