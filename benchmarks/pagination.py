"""Pagination cost: does a page cost the same however much is stored?

In-process (``mock_kinesisvideo``, quotas off: the calls come faster than the
service allows), through boto3, in alternating rounds so machine noise hits
the small and the large variant alike:

* ListFragments, MaxResults 1000, on a stream of 1,000 and one of 100,000
  fragments: the first page, a page from a NextToken in the middle of the
  stream, and a page with a SERVER_TIMESTAMP selector covering the newest
  1,000 fragments;
* ListStreams, MaxResults 5 (first page and one from a NextToken), with 10
  and with 10,000 streams in the account and region.

The fragments are copies of one real fragment (PutMedia of a 1-second
sample), put straight into the stream's store with their own numbers and
timestamps, so a stream of 100,000 is made in seconds. Target: each large
variant within 1.2x of its small one.

    python benchmarks/pagination.py [--rounds 7] [--no-write]

Prints a table and writes it to benchmarks/results/pagination.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import time
from datetime import datetime, timezone

import boto3

import kvsmock
from kvsmock import mock_kinesisvideo, put_media, sample_mkv
from kvsmock.api.moto_glue import backend_for
from report import publish

REGION = "us-east-1"
ACCOUNT = "123456789012"
SIZES = {"small": (1_000, 10), "large": (100_000, 10_000)}  # (fragments, streams)
CALLS = 20
#: Where each variant's streams are listed.
STREAM_REGIONS = {"small": "eu-west-1", "large": "eu-west-2"}


def _client(service: str, region_name: str = REGION, **kwargs):
    return boto3.client(service, region_name=region_name, aws_access_key_id="testing",
                        aws_secret_access_key="testing", **kwargs)


def _fill_stream(control, name: str, count: int) -> None:
    """A stream holding ``count`` fragments one second apart, in number order (the copies follow the real one)."""
    control.create_stream(StreamName=name, DataRetentionInHours=24 * 365)
    put_media(name, media=sample_mkv(duration_s=1, fragment_s=1, width=64, height=48, start=0),
              region_name=REGION, timecode_type="RELATIVE")
    store = backend_for(ACCOUNT, REGION).streams[name].store
    model = store.snapshot()[0]
    copies = []
    for i in range(count - 1):
        at = model.server_timestamp + 1 + i
        copies.append(dataclasses.replace(model, number=store.next_number(), server_timestamp=at,
                                          producer_timestamp=at))
    for fragment in copies:
        store.add(fragment)


def _timed(call, n: int = CALLS) -> float:
    """Median ms of ``n`` calls."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        call()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    kvsmock.quotas.set("off")
    results: dict[tuple[str, str], list[float]] = {}
    with mock_kinesisvideo():
        control = _client("kinesisvideo")
        made = time.perf_counter()
        for variant, (fragments, _) in SIZES.items():
            _fill_stream(control, f"frags-{variant}", fragments)
        # ListStreams lists every stream of an account and region: each variant has a region of its own.
        for variant, (_, streams) in SIZES.items():
            in_region = _client("kinesisvideo", region_name=STREAM_REGIONS[variant])
            for i in range(streams):
                in_region.create_stream(StreamName=f"s-{i:05d}")
        setup_s = time.perf_counter() - made

        def cases(variant: str):
            name = f"frags-{variant}"
            count, _ = SIZES[variant]
            endpoint = control.get_data_endpoint(StreamName=name, APIName="LIST_FRAGMENTS")["DataEndpoint"]
            archived = _client("kinesis-video-archived-media", endpoint_url=endpoint)
            token = None
            for _ in range(count // 2000):  # to the middle of the stream
                token = archived.list_fragments(StreamName=name, MaxResults=1000,
                                                **({"NextToken": token} if token else {}))["NextToken"]
            newest = backend_for(ACCOUNT, REGION).streams[name].store.snapshot()
            span = {"StartTimestamp": datetime.fromtimestamp(newest[-1000].server_timestamp, timezone.utc),
                    "EndTimestamp": datetime.fromtimestamp(newest[-1].server_timestamp, timezone.utc)}
            streams_client = _client("kinesisvideo", region_name=STREAM_REGIONS[variant])
            streams_token = streams_client.list_streams(MaxResults=5)["NextToken"]
            return {
                "ListFragments, first page": lambda: archived.list_fragments(StreamName=name, MaxResults=1000),
                "ListFragments, a page from the middle (NextToken)": lambda: archived.list_fragments(
                    StreamName=name, MaxResults=1000, **({"NextToken": token} if token else {})),
                "ListFragments, SERVER_TIMESTAMP range of the newest 1,000": lambda: archived.list_fragments(
                    StreamName=name, MaxResults=1000, FragmentSelector={
                        "FragmentSelectorType": "SERVER_TIMESTAMP", "TimestampRange": span}),
                "ListStreams, first page of 5": lambda: streams_client.list_streams(MaxResults=5),
                "ListStreams, a page from a NextToken": lambda: streams_client.list_streams(
                    MaxResults=5, NextToken=streams_token),
            }

        prepared = {variant: cases(variant) for variant in SIZES}
        for r in range(args.rounds):
            order = list(SIZES) if r % 2 == 0 else list(reversed(SIZES))
            for variant in order:
                for case, call in prepared[variant].items():
                    call()  # warm
                    results.setdefault((case, variant), []).append(_timed(call))
    kvsmock.quotas.set("service")

    intro = [
        f"Pagination: the cost of one page with little and with much stored, in-process through boto3 "
        f"(quotas off), median of {args.rounds} alternating rounds of {CALLS} calls each; "
        f"ListFragments on streams of {SIZES['small'][0]:,} and {SIZES['large'][0]:,} fragments, ListStreams "
        f"in regions holding {SIZES['small'][1]:,} and {SIZES['large'][1]:,} streams (set-up {setup_s:.0f} s). "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}. "
        "Target: large / small <= 1.2.",
        "",
        "`python benchmarks/pagination.py" + "".join(" " + a for a in (argv if argv is not None else sys.argv[1:])) + "`",
    ]
    columns = ["page", "small (ms)", "large (ms)", "large / small"]
    rows = []
    for case in prepared["small"]:
        small = statistics.median(results[(case, "small")])
        large = statistics.median(results[(case, "large")])
        rows.append([case, f"{small:.2f}", f"{large:.2f}", f"{large / small:.2f}"])
    publish("pagination", intro, columns, ["---", "---:", "---:", "---:"], rows, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
