"""Usage metering: ingest, consumption, storage and cost, in-process and from the server."""

from __future__ import annotations

import pytest
import requests

import kvsmock
from kvsmock import put_media, read_fragments, sample_mkv
from kvsmock.errors import InvalidArgumentException
from kvsmock.media import ebml
from kvsmock.media.mkvwriter import Packet, TrackSpec, write_mkv
from kvsmock.service.usage import DEFAULT_RATES

MEDIA = sample_mkv(duration_s=4, fragment_s=2)
GB = 1024**3


def _usage(kv, **params):
    if hasattr(kv, "endpoint_url") and kv.endpoint_url:
        response = requests.get(f"{kv.endpoint_url}/_kvsmock/usage", params=params, timeout=10)
        response.raise_for_status()
        return response.json()
    return kvsmock.usage(params or None)


def _stream(report, name):
    (only,) = [s for s in report["Streams"] if s["StreamName"] == name]
    return only


def _put(kv, name, media=MEDIA):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session())


def test_ingest_consumption_and_storage_are_counted(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    _put(kv, "cam")
    listed = kv.archived_media("cam").list_fragments(StreamName="cam")["Fragments"]
    sizes = sum(f["FragmentSizeInBytes"] for f in listed)
    report = _stream(_usage(kv), "cam")
    assert report["IngestedBytes"] == report["BilledIngestedBytes"] == sizes  # fragments above 4 KB
    assert report["IngestedFragments"] == 2
    assert report["ConsumedBytes"] == 0

    # A consumer that reads each fragment once is billed for exactly what it was sent.
    payload = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    assert len(list(read_fragments(payload))) == 2
    assert _stream(_usage(kv), "cam")["ConsumedBytes"] == len(payload)
    numbers = [f["FragmentNumber"] for f in listed]
    listed_payload = kv.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
        StreamName="cam", Fragments=numbers[:1]
    )["Payload"].read()
    assert _stream(_usage(kv), "cam")["ConsumedBytes"] == len(payload) + len(listed_payload)

    # Storage: stored bytes for a simulated hour.
    stored = _stream(_usage(kv), "cam")["StoredBytes"]
    before = _stream(_usage(kv), "cam")["StoredGBHours"]
    kv.advance_clock(3600)
    after = _stream(_usage(kv), "cam")["StoredGBHours"]
    assert after - before == pytest.approx(stored / GB, rel=0.01)
    cost = _usage(kv)["CostUSD"]
    assert cost["Stored"] == pytest.approx(after / 730 * DEFAULT_RATES["stored_per_gb_month"], rel=0.01)
    assert cost["Ingested"] == pytest.approx(sizes / GB * DEFAULT_RATES["ingested_per_gb"])
    assert cost["Total"] == pytest.approx(sum(v for k, v in cost.items() if k != "Total"))


def test_small_fragments_are_billed_at_4_kb(kv):
    track = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x42\x00\x1e\xff\xe1\x00\x00\x01\x00\x00", width=16, height=16)
    packets = [Packet(1, t * 40, t % 25 == 0, b"\x00\x00\x00\x01\x65" + bytes(20)) for t in range(75)]
    media = write_mkv([track], packets)
    kv.kinesisvideo.create_stream(StreamName="tiny", DataRetentionInHours=1)
    acks = _put(kv, "tiny", media)
    count = sum(a["EventType"] == "PERSISTED" for a in acks)
    assert count >= 2
    report = _stream(_usage(kv), "tiny")
    assert report["IngestedBytes"] < 4096 * count
    assert report["BilledIngestedBytes"] == 4096 * count


def test_deleted_streams_stay_in_the_report_and_rates_can_be_overridden(kv):
    kv.kinesisvideo.create_stream(StreamName="gone", DataRetentionInHours=1)
    _put(kv, "gone")
    arn = kv.kinesisvideo.describe_stream(StreamName="gone")["StreamInfo"]["StreamARN"]
    kv.kinesisvideo.delete_stream(StreamARN=arn)
    report = _usage(kv, ingested_per_gb="1000")
    gone = _stream(report, "gone")
    assert gone["Deleted"] is True and gone["StoredBytes"] == 0
    assert report["Rates"]["ingested_per_gb"] == 1000
    assert report["CostUSD"]["Ingested"] == pytest.approx(gone["BilledIngestedBytes"] / GB * 1000)


def test_bad_rates_are_refused(kv):
    if kv.endpoint_url:
        response = requests.get(f"{kv.endpoint_url}/_kvsmock/usage", params={"ingested_per_gb": "cheap"}, timeout=10)
        assert response.status_code == 400 and "must be a number" in response.json()["Message"]
        response = requests.get(f"{kv.endpoint_url}/_kvsmock/usage", params={"nope": "1"}, timeout=10)
        assert response.status_code == 400 and "Unknown rate" in response.json()["Message"]
    else:
        with pytest.raises(InvalidArgumentException):
            kvsmock.usage({"ingested_per_gb": -1})
        with pytest.raises(InvalidArgumentException):
            kvsmock.usage({"nope": 1})


def test_usage_is_per_account_and_region(kvs):
    kvs.kinesisvideo.create_stream(StreamName="east", DataRetentionInHours=1)
    kvs.client("kinesisvideo", region_name="eu-west-1").create_stream(StreamName="west", DataRetentionInHours=1)
    assert [s["StreamName"] for s in kvsmock.usage(region="eu-west-1")["Streams"]] == ["west"]
    assert {s["Region"] for s in kvsmock.usage()["Streams"]} == {"us-east-1", "eu-west-1"}
    assert kvsmock.usage(account_id="000000000000")["Streams"] == []
