"""Fault rules, in-process and against the server: what a client sees when one strikes, and the request log.

Each test runs in both modes (the ``kv`` fixture): the effects on the client must be the same.
"""

from __future__ import annotations

import time

import botocore.exceptions
import pytest
from botocore.config import Config

from kvsmock import read_fragments, sample_mkv
from kvsmock.client import put_media_acks

#: Five fragments of two seconds (RELATIVE timecodes).
MEDIA = sample_mkv(duration_s=10, fragment_s=2, start=0)


def _stream(kv, name: str = "faulty") -> str:
    kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=24, MediaType="video/h264")
    return name


def _put(kv, name: str) -> list[dict]:
    """The ACKs of one upload of MEDIA, up to the point the upload ended."""
    return list(_acks(kv, name, []))


def _acks(kv, name: str, into: list[dict]):
    for event in put_media_acks(name, media=MEDIA, endpoint_url=kv.endpoint_url, session=kv.session(),
                                timecode_type="RELATIVE"):
        into.append(event)
        yield event


def _listed(kv, name: str) -> list[str]:
    fragments = kv.archived_media(name).list_fragments(StreamName=name)["Fragments"]
    return sorted(f["FragmentNumber"] for f in fragments)


def _after_drop_put(kv, name: str) -> list[dict]:
    """A new upload once the dropped one has let go of the stream's one PutMedia connection."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return _put(kv, name)
        except botocore.exceptions.ClientError as err:
            if err.response["Error"]["Code"] != "ConnectionLimitExceededException" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# --------------------------------------------------------------- control plane
def test_boto3_standard_retry_recovers_from_two_throttles(kv):
    name = _stream(kv)
    rule = kv.faults.add(operation="DescribeStream", error="ThrottlingException", count=2)
    client = kv.client("kinesisvideo", config=Config(retries={"mode": "standard", "max_attempts": 3}))

    info = client.describe_stream(StreamName=name)["StreamInfo"]

    assert info["StreamName"] == name
    calls = [e for e in kv.requests() if e["operation"] == "DescribeStream"]
    assert len(calls) == 3
    oldest_first = calls[::-1]
    assert [(e["status"], e["error"], e["fault"]) for e in oldest_first] == [
        (400, "ThrottlingException", rule),
        (400, "ThrottlingException", rule),
        (200, None, None),
    ]
    assert [r["struck"] for r in kv.faults.list() if r["id"] == rule] == [2]


def test_client_limit_exceeded_is_not_retried_by_botocore(kv):
    """The service's own throttling error: botocore's standard mode does not retry it (spec 9)."""
    name = _stream(kv)
    kv.faults.add(operation="DescribeStream", error="ClientLimitExceededException", stream=name)
    client = kv.client("kinesisvideo", config=Config(retries={"mode": "standard", "max_attempts": 3}))

    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.describe_stream(StreamName=name)

    assert caught.value.response["Error"]["Code"] == "ClientLimitExceededException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len([e for e in kv.requests() if e["operation"] == "DescribeStream"]) == 1


def test_rules_narrow_by_stream_and_status_overrides(kv):
    _stream(kv, "hit")
    _stream(kv, "spared")
    arn = kv.kinesisvideo.describe_stream(StreamName="hit")["StreamInfo"]["StreamARN"]
    kv.faults.add(operation="describeStream", stream=arn, error="InternalFailure", status=503)
    client = kv.client("kinesisvideo", config=Config(retries={"total_max_attempts": 1}))

    assert client.describe_stream(StreamName="spared")["StreamInfo"]["StreamName"] == "spared"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.describe_stream(StreamName="hit")  # the rule names the ARN, the call the name: same stream
    assert caught.value.response["Error"]["Code"] == "InternalFailure"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_probability_zero_never_strikes_and_remove_and_clear(kv):
    name = _stream(kv)
    never = kv.faults.add(operation="*", error="InternalFailure", probability=0)
    later = kv.faults.add(operation="ListStreams", error="InternalFailure")
    assert kv.kinesisvideo.describe_stream(StreamName=name)
    kv.faults.remove(later)
    assert kv.kinesisvideo.list_streams()["StreamInfoList"]
    assert [r["id"] for r in kv.faults.list()] == [never]
    assert kv.faults.list()[0]["struck"] == 0
    with pytest.raises(KeyError):
        kv.faults.remove(later)
    kv.faults.clear()
    assert kv.faults.list() == []


def test_latency_is_honoured(kv):
    name = _stream(kv)
    kv.faults.add(operation="DescribeStream", latency_ms=400, count=1)
    started = time.monotonic()
    kv.kinesisvideo.describe_stream(StreamName=name)
    assert time.monotonic() - started >= 0.4
    entry = next(e for e in kv.requests() if e["operation"] == "DescribeStream")
    assert entry["duration_ms"] >= 400
    assert entry["fault_effect"] == "latency 400 ms"


@pytest.mark.parametrize(
    "rule, message",
    [
        ({}, "needs an operation"),
        ({"operation": "DescribeStreams", "error": "InternalFailure"}, "unknown operation"),
        ({"operation": "DescribeStream"}, "must do something"),
        ({"operation": "DescribeStream", "error": "NoSuchThing"}, "give a status"),
        ({"operation": "DescribeStream", "after_fragments": 1, "drop": True}, "PutMedia and GetMedia only"),
        ({"operation": "PutMedia", "after_fragments": 1}, "exactly one of error_id"),
        ({"operation": "PutMedia", "after_fragments": 1, "error_id": 1234}, "error_id 1234"),
        ({"operation": "GetMedia", "after_fragments": 1, "error_id": 4002}, "error_id 4002"),
        ({"operation": "PutMedia", "probability": 2, "error": "InternalFailure"}, "probability"),
        ({"operation": "PutMedia", "count": 0, "error": "InternalFailure"}, "count"),
        ({"operation": "PutMedia", "latency": 5}, "unknown rule field"),
    ],
)
def test_bad_rules_are_refused_with_a_reason(kv, rule, message):
    with pytest.raises(ValueError, match=message):
        kv.faults.add(**rule)
    assert kv.faults.list() == []


# --------------------------------------------------------------------- PutMedia
def test_put_media_drop_after_two_fragments(kv):
    name = _stream(kv)
    kv.faults.add(operation="PutMedia", after_fragments=2, drop=True, count=1)
    seen: list[dict] = []

    with pytest.raises(ConnectionResetError):
        for _ in _acks(kv, name, seen):
            pass

    assert [a["EventType"] for a in seen] == ["BUFFERING", "RECEIVED", "PERSISTED"] * 2
    assert len(_listed(kv, name)) == 2
    entry = next(e for e in kv.requests() if e["operation"] == "PutMedia")
    assert entry["fault_effect"] == "drop after 2 fragments"

    # The producer reconnects and sends again: the stream takes it.
    again = _after_drop_put(kv, name)
    assert sum(a["EventType"] == "PERSISTED" for a in again) == 5
    assert len(_listed(kv, name)) == 7


def test_put_media_error_id_after_one_fragment(kv):
    name = _stream(kv)
    kv.faults.add(operation="PutMedia", after_fragments=1, error_id=4002)

    acks = _put(kv, name)

    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED", "PERSISTED", "ERROR"]
    error = acks[-1]
    assert error["ErrorId"] == 4002
    assert error["ErrorCode"] == "MAX_FRAGMENT_DURATION_REACHED"
    assert error["FragmentTimecode"] == 2000  # the fragment that failed: the second
    assert _listed(kv, name) == [acks[2]["FragmentNumber"]]


def test_put_media_latency_is_spent_per_fragment(kv):
    name = _stream(kv)
    kv.faults.add(operation="PutMedia", latency_ms=150)
    started = time.monotonic()
    acks = _put(kv, name)
    assert time.monotonic() - started >= 5 * 0.15
    assert sum(a["EventType"] == "PERSISTED" for a in acks) == 5


# --------------------------------------------------------------------- GetMedia
def _put_five(kv, name: str) -> list[str]:
    _put(kv, name)
    numbers = _listed(kv, name)
    assert len(numbers) == 5
    return numbers


def test_get_media_drop_then_resume_with_the_continuation_token(kv):
    name = _stream(kv)
    stored = _put_five(kv, name)
    kv.faults.add(operation="GetMedia", after_fragments=1, drop=True, count=1)
    media = kv.media(name)
    read: list[str] = []
    token = None

    payload = media.get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"]
    with pytest.raises(botocore.exceptions.ResponseStreamingError):
        for fragment in read_fragments(payload):
            read.append(fragment.fragment_number)
            token = fragment.continuation_token
    assert len(read) == 1 and token == read[0]

    payload = media.get_media(
        StreamName=name, StartSelector={"StartSelectorType": "CONTINUATION_TOKEN", "ContinuationToken": token}
    )["Payload"]
    read += [fragment.fragment_number for fragment in read_fragments(payload)]

    assert read == stored  # every fragment exactly once, in order


def test_get_media_error_id_ends_with_an_error_chunk(kv):
    name = _stream(kv)
    stored = _put_five(kv, name)
    kv.faults.add(operation="GetMedia", after_fragments=2, error_id=5000)

    payload = kv.media(name).get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"]
    fragments = list(read_fragments(payload))

    assert [f.fragment_number for f in fragments[:2]] == stored[:2]
    assert len(fragments) == 3
    assert fragments[2].error_id == 5000
    assert fragments[2].fragment_number == stored[2]


# ------------------------------------------------------------------ the request log
def test_request_log_entries(kv):
    name = _stream(kv)
    kv.kinesisvideo.describe_stream(StreamName=name)
    with pytest.raises(botocore.exceptions.ClientError):
        kv.kinesisvideo.describe_stream(StreamName="missing")

    newest, before = kv.requests(limit=2)
    assert newest["operation"] == "DescribeStream" and newest["resource"] == "missing"
    assert (newest["status"], newest["error"]) == (404, "ResourceNotFoundException")
    assert (before["status"], before["error"], before["resource"]) == (200, None, name)
    assert before["bytes_in"] > 0 and before["bytes_out"] > 0
    assert newest["time"] >= before["time"]
    assert {newest["account"], newest["region"]} == {"123456789012", "us-east-1"}
    assert kv.requests(limit=0) == []
