"""Property tests of PutMedia: split anywhere, mutate anything.

In-process on :class:`PutMediaSession` (sans-I/O) and end to end through the
``kvs`` fixture (boto3 + ``put_media``).
"""

from __future__ import annotations

import itertools
import threading

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvsmock import put_media, read_fragments, sample_mkv
from kvsmock.media import ebml
from kvsmock.service.put_media import PutMediaSession
from kvsmock.service.streams import Stream

MEDIA = sample_mkv(duration_s=3, fragment_s=1, width=160, height=120, start=0)
EVENT_TYPES = {"BUFFERING", "RECEIVED", "PERSISTED", "ERROR"}


def _cluster_spans(media: bytes) -> list[tuple[int, int]]:
    pos = 0
    _, size, header_len = ebml.read_element_header(media, pos)
    pos += header_len + size
    pos += ebml.read_element_header(media, pos)[2]
    spans = []
    while pos < len(media):
        element_id, size, header_len = ebml.read_element_header(media, pos)
        if element_id == ebml.CLUSTER:
            spans.append((pos, pos + header_len + size))
        pos += header_len + size
    return spans


SPANS = _cluster_spans(MEDIA)
_names = itertools.count()


def _stream() -> Stream:
    return Stream(
        "s", "arn:aws:kinesisvideo:us-east-1:123456789012:stream/s/1700000000000", "us-east-1",
        "123456789012", 1_700_000_000.0, "arn:aws:kms:us-east-1:123456789012:alias/aws/kinesisvideo",
        data_retention_hours=1,
    )


def _run(body: bytes, cuts: list[int], timeout: float = 10.0):
    """Feed ``body`` split at ``cuts`` into a fresh session, in a thread so a hang fails the test."""
    stream = _stream()
    result: dict = {}

    def work():
        session = PutMediaSession(stream, "RELATIVE")
        bounds = [0] + sorted(set(c for c in cuts if 0 < c < len(body))) + [len(body)]
        events = []
        for a, b in zip(bounds, bounds[1:]):
            events += session.feed(body[a:b])
        events += session.close()
        result["events"] = events

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "PutMediaSession hung"
    assert "events" in result, "PutMediaSession raised (see the thread's traceback above)"
    return result["events"], stream.store.snapshot()


def _fragment_view(fragments):
    return [
        (f.number, f.cluster, f.tags_after, f.producer_timestamp, f.duration_ms, f.frame_count) for f in fragments
    ]


def _check_ack_invariants(events, stored) -> None:
    assert all(e["EventType"] in EVENT_TYPES for e in events)
    errors = [i for i, e in enumerate(events) if e["EventType"] == "ERROR"]
    assert errors in ([], [len(events) - 1]), "ERROR must be the last ACK, and only one"
    if errors:
        assert isinstance(events[-1]["ErrorId"], int) and events[-1]["ErrorCode"]
    received = [e["FragmentNumber"] for e in events if e["EventType"] == "RECEIVED"]
    persisted = [e["FragmentNumber"] for e in events if e["EventType"] == "PERSISTED"]
    buffering = [e["FragmentNumber"] for e in events if e["EventType"] == "BUFFERING"]
    assert received == persisted  # retention > 0
    assert received == sorted(received) and len(set(received)) == len(received)
    assert set(received) <= set(buffering)
    # Every acknowledged fragment is stored, and nothing unacknowledged is.
    assert [f.number for f in stored] == received


# ------------------------------------------------------------ splitting
BASELINE_EVENTS, BASELINE_STORED = _run(MEDIA, [])


def test_baseline():
    assert [e["EventType"] for e in BASELINE_EVENTS] == ["BUFFERING", "RECEIVED", "PERSISTED"] * len(SPANS)
    assert [f.cluster for f in BASELINE_STORED] == [MEDIA[a:b] for a, b in SPANS]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=len(MEDIA) - 1), max_size=60))
def test_split_anywhere_gives_the_same_fragments_and_acks(cuts):
    events, stored = _run(MEDIA, cuts)
    assert [(e["EventType"], e["FragmentTimecode"], e["FragmentNumber"]) for e in events] == [
        (e["EventType"], e["FragmentTimecode"], e["FragmentNumber"]) for e in BASELINE_EVENTS
    ]
    assert _fragment_view(stored) == _fragment_view(BASELINE_STORED)


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=1, max_value=64))
def test_fixed_size_pieces(size):
    events, stored = _run(MEDIA, list(range(size, len(MEDIA), size)))
    assert events == BASELINE_EVENTS[: len(events)] and len(events) == len(BASELINE_EVENTS)
    assert _fragment_view(stored) == _fragment_view(BASELINE_STORED)


# ------------------------------------------------------------ mutations
@st.composite
def mutated(draw):
    """(body, first changed offset) after a flip, truncation or insertion."""
    data = bytearray(MEDIA)
    kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
    if kind == "flip":
        positions = draw(st.lists(st.integers(0, len(data) - 1), min_size=1, max_size=4))
        for p in positions:
            data[p] ^= draw(st.integers(1, 255))
        return bytes(data), min(positions)
    if kind == "truncate":
        p = draw(st.integers(0, len(data) - 1))
        return bytes(data[:p]), p
    if kind == "insert":
        p = draw(st.integers(0, len(data)))
        data[p:p] = draw(st.binary(min_size=1, max_size=32))
        return bytes(data), p
    p = draw(st.integers(0, len(data) - 1))
    del data[p : p + draw(st.integers(1, 64))]
    return bytes(data), p


def _check_mutated(body: bytes, changed_at: int, cuts: list[int]) -> None:
    events, stored = _run(body, cuts)
    _check_ack_invariants(events, stored)
    # A fragment whose Cluster (and the header of what follows it) came before
    # the damage is acknowledged and kept byte for byte.
    intact = [MEDIA[a:b] for a, b in SPANS if b + 16 <= changed_at]
    assert [f.cluster for f in stored[: len(intact)]] == intact


@settings(max_examples=40, deadline=None)
@given(mutated(), st.lists(st.integers(min_value=1, max_value=len(MEDIA)), max_size=8))
def test_mutated_uploads_never_raise_hang_or_lose_acknowledged_fragments(case, cuts):
    body, changed_at = case
    _check_mutated(body, changed_at, cuts)


@pytest.mark.slow
@settings(max_examples=1500, deadline=None)
@given(mutated(), st.lists(st.integers(min_value=1, max_value=len(MEDIA)), max_size=30))
def test_mutated_uploads_soak(case, cuts):
    body, changed_at = case
    _check_mutated(body, changed_at, cuts)


# ------------------------------------------------------------ through the API (kvs fixture)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=mutated())
def test_mutated_uploads_through_the_api(kvs, case):
    body, changed_at = case
    name = f"fuzz-{next(_names)}"
    kvs.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    try:
        events = put_media(name, media=body, region_name=kvs.region_name, timecode_type="RELATIVE",
                           producer_start_timestamp=1_700_000_000)
    except ClientError as err:  # an HTTP-level error would have to be a 4xx, never a 500
        pytest.fail(f"PutMedia answered {err.response['ResponseMetadata']['HTTPStatusCode']}: {err}")
    assert all(e["EventType"] in EVENT_TYPES for e in events)
    received = [e["FragmentNumber"] for e in events if e["EventType"] == "RECEIVED"]
    payload = kvs.media(name).get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    fragments = list(read_fragments(payload))
    assert [f.fragment_number for f in fragments] == received
    listed = kvs.archived_media(name).list_fragments(StreamName=name)["Fragments"]
    assert sorted(f["FragmentNumber"] for f in listed) == received
