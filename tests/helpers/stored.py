"""Streams and fragments made directly in the service layer, for tests below the API."""

from __future__ import annotations

from kvsmock import clock
from kvsmock.service.fragments import MediaHeader, StoredFragment
from kvsmock.service.streams import Stream

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/cam/1700000000000"


def new_stream(arn: str = ARN) -> Stream:
    """A stream named ``cam`` retaining an hour, its media sealed with the key ``key``."""
    return Stream(name="cam", arn=arn, region="us-east-1", account_id="123456789012", creation_time=1.0,
                  kms_key_id="key", data_retention_hours=1)


def add_fragment(stream: Stream, cluster: bytes) -> StoredFragment:
    """Store a 2-second fragment whose (sealed) Cluster is ``cluster``; returns it."""
    fragment = StoredFragment(
        number=stream.store.next_number(), server_timestamp=clock.now(), producer_timestamp=clock.now(),
        duration_ms=2000, header=MediaHeader(b"ebml", b"segment", ()), payload=stream.keys.seal([cluster]),
    )
    stream.store.add(fragment)
    return fragment
