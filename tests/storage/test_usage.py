"""Usage metering: ingest, consumption, storage and cost, in-process and from the server."""

from __future__ import annotations

import re
from urllib.parse import urljoin

import pytest
import requests

import kvsmock
from kvsmock import put_media, read_fragments, sample_mkv
from kvsmock.errors import InvalidArgumentException
from kvsmock.media import ebml
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, write_mkv

MEDIA = sample_mkv(duration_s=4, fragment_s=2)
GB = 1024**3

# The published us-east-1 prices the README ("Usage and cost") gives, in US dollars: the expected costs
# below are worked out from these and the bytes each test measured, never from kvsmock's own table.
INGESTED_PER_GB = 0.0085
CONSUMED_PER_GB = 0.0085  # GetMedia (and GetMediaForFragmentList, GetClip)
CONSUMED_HLS_DASH_PER_GB = 0.0119
STORED_PER_GB_MONTH = 0.023
HOURS_PER_MONTH = 730
SIGNALING_PER_MILLION_MESSAGES = 2.25


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


def test_default_rates_are_the_published_prices(kv):
    assert _usage(kv)["Rates"] == {
        "ingested_per_gb": 0.0085,
        "consumed_per_gb": 0.0085,
        "consumed_hls_dash_per_gb": 0.0119,
        "stored_per_gb_month": 0.023,
        "signaling_per_million_messages": 2.25,
        "active_signaling_channel_per_month": 0.03,
        "turn_per_thousand_minutes": 0.12,
    }


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
    consumed = len(payload) + len(listed_payload)
    assert _stream(_usage(kv), "cam")["ConsumedBytes"] == consumed
    produced = sorted(f["ProducerTimestamp"] for f in listed)
    clip = kv.archived_media("cam", "GET_CLIP").get_clip(
        StreamName="cam",
        ClipFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": produced[0], "EndTimestamp": produced[-1]},
        },
    )["Payload"].read()
    assert clip[4:8] == b"ftyp"
    consumed += len(clip)
    assert _stream(_usage(kv), "cam")["ConsumedBytes"] == consumed

    # Storage: the stored bytes for a simulated hour.
    before = _usage(kv)
    stored = _stream(before, "cam")["StoredBytes"]
    assert stored >= sizes  # both fragments, as kept
    kv.advance_clock(3600)
    after = _usage(kv)
    gb_hours = _stream(after, "cam")["StoredGBHours"]
    assert gb_hours - _stream(before, "cam")["StoredGBHours"] == pytest.approx(stored / GB, rel=0.01)
    assert _stream(after, "cam")["StoredGBMonths"] == pytest.approx(gb_hours / HOURS_PER_MONTH)

    cost = after["CostUSD"]
    assert cost["Ingested"] == pytest.approx(sizes / GB * INGESTED_PER_GB)
    assert cost["Consumed"] == pytest.approx(consumed / GB * CONSUMED_PER_GB)
    assert cost["ConsumedHlsDash"] == 0
    # One more hour of the stored bytes adds its share of a month's storage price.
    assert cost["Stored"] - before["CostUSD"]["Stored"] == pytest.approx(
        stored / GB * 1 / HOURS_PER_MONTH * STORED_PER_GB_MONTH, rel=0.01
    )
    assert cost["Stored"] == pytest.approx(gb_hours / HOURS_PER_MONTH * STORED_PER_GB_MONTH)
    assert cost["SignalingMessages"] == 0
    assert cost["Total"] == pytest.approx(
        sizes / GB * INGESTED_PER_GB + consumed / GB * CONSUMED_PER_GB + gb_hours / HOURS_PER_MONTH * STORED_PER_GB_MONTH
    )


def _hls_media_bytes(url: str) -> int:
    """Play an HLS session as a player does (playlists, then the init and media segments); the media bytes fetched."""
    master = requests.get(url, timeout=10)
    master.raise_for_status()
    total = 0
    for line in master.text.splitlines():
        if not line or line.startswith("#"):
            continue
        playlist_url = urljoin(url, line)
        playlist = requests.get(playlist_url, timeout=10)
        playlist.raise_for_status()
        resources = re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist.text)
        resources += [entry for entry in playlist.text.splitlines() if entry and not entry.startswith("#")]
        assert len(resources) >= 3, playlist.text  # the init segment and both fragments
        for resource in resources:
            segment = requests.get(urljoin(playlist_url, resource), timeout=10)
            segment.raise_for_status()
            total += len(segment.content)
    return total


def test_hls_consumption_is_billed_at_the_hls_dash_rate(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=24)
    _put(kv, "cam")
    url = kv.archived_media("cam", "GET_HLS_STREAMING_SESSION_URL").get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="LIVE"
    )["HLSStreamingSessionURL"]
    fetched = _hls_media_bytes(url)
    report = _usage(kv)
    cam = _stream(report, "cam")
    assert cam["ConsumedHlsDashBytes"] == fetched > 0
    assert cam["ConsumedBytes"] == 0  # HLS is not GetMedia consumption
    assert report["CostUSD"]["ConsumedHlsDash"] == pytest.approx(fetched / GB * CONSUMED_HLS_DASH_PER_GB)
    assert report["CostUSD"]["Consumed"] == 0


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
    assert report["Rates"]["consumed_per_gb"] == CONSUMED_PER_GB  # the others keep their published price
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
