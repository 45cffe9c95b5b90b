"""Control-plane call cost: kvsmock next to moto's built-in kinesisvideo backend.

Both run in-process inside ``mock_aws`` in the same run, in alternating
rounds, so machine noise hits both alike; the figure that matters is the
ratio (target: kvsmock's per-call time at most 1.2x moto's).

Quotas are off for the run (``kvsmock.quotas.set("off")``): hundreds of
DescribeStream calls a second on one stream are more than the service allows
(5 a second per stream), and moto has no such limits to compare with.

    python benchmarks/control_plane.py [--rounds 7] [--streams 100]

Prints a table and writes it to benchmarks/results/control_plane.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import boto3
import moto

import kvsmock
from kvsmock.api import moto_glue
from report import publish



def _client():
    return boto3.client(
        "kinesisvideo", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def _time_calls(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def measure(use_kvsmock: bool, streams: int, describe_calls: int, list_calls: int) -> dict[str, float]:
    """Per-call seconds for DescribeStream and ListStreams with one backend."""
    if use_kvsmock:
        moto_glue.install()
    else:
        moto_glue.uninstall()
    try:
        with moto.mock_aws():
            client = _client()
            for i in range(streams):
                client.create_stream(StreamName=f"bench-{i:04d}", DataRetentionInHours=1)
            name = f"bench-{streams // 2:04d}"
            # Warm up both paths (imports, regex caches, model loading).
            for _ in range(20):
                client.describe_stream(StreamName=name)
                client.list_streams(MaxResults=streams)
            describe = _time_calls(lambda: client.describe_stream(StreamName=name), describe_calls)
            list_ = _time_calls(lambda: client.list_streams(MaxResults=streams), list_calls)
            return {"DescribeStream": describe, "ListStreams": list_}
    finally:
        moto_glue.install()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--describe-calls", type=int, default=300)
    parser.add_argument("--list-calls", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update the results file")
    args = parser.parse_args(argv)
    kvsmock.quotas.set("off")  # see the module docstring

    samples: dict[str, dict[str, list[float]]] = {"moto": {}, "kvsmock": {}}
    for _ in range(args.rounds):
        for label, use in (("moto", False), ("kvsmock", True)):
            for op, seconds in measure(use, args.streams, args.describe_calls, args.list_calls).items():
                samples[label].setdefault(op, []).append(seconds)

    rows = []
    for op in ("DescribeStream", "ListStreams"):
        moto_ms = statistics.median(samples["moto"][op]) * 1000
        kvs_ms = statistics.median(samples["kvsmock"][op]) * 1000
        rows.append((op, moto_ms, kvs_ms, kvs_ms / moto_ms))

    intro = [
        f"Control-plane per-call time, in-process, median of {args.rounds} alternating rounds "
        f"({args.describe_calls} DescribeStream / {args.list_calls} ListStreams calls each, "
        f"{args.streams} streams listed per call).",
        f"Python {platform.python_version()}, moto {moto.__version__}, boto3 {boto3.__version__}, "
        f"{os.cpu_count()} CPUs. Target: ratio <= 1.20. kvsmock with quotas off (more calls a second than the "
        "service allows).",
    ]
    columns = ["operation", "moto built-in (ms/call)", "kvsmock (ms/call)", "ratio kvsmock/moto"]
    table = [(op, f"{moto_ms:.3f}", f"{kvs_ms:.3f}", f"{ratio:.2f}") for op, moto_ms, kvs_ms, ratio in rows]
    publish("control_plane", intro, columns, ["---", "---:", "---:", "---:"], table, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
