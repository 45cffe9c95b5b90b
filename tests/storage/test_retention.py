"""Retention: fragments are readable for exactly DataRetentionInHours, then gone from every read API."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.exceptions import ClientError
from freezegun import freeze_time

from kvsmock import mock_kinesisvideo, put_media, read_fragments, sample_mkv
from kvsmock.api.moto_glue import backend_for

MEDIA = sample_mkv(duration_s=4, fragment_s=2, start=0)  # RELATIVE timecodes
HOUR = 3600


def _put(kv, name, media=MEDIA):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(),
                     timecode_type="RELATIVE", producer_start_timestamp=1_700_000_000)


def _persisted(acks):
    return [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]


def _listed(kv, name):
    return sorted(f["FragmentNumber"] for f in kv.archived_media(name).list_fragments(StreamName=name)["Fragments"])


def _get_media(kv, name):
    payload = kv.media(name).get_media(StreamName=name, StartSelector={"StartSelectorType": "EARLIEST"})["Payload"].read()
    return [f.fragment_number for f in read_fragments(payload)]


def test_fragments_expire_exactly_at_the_end_of_retention(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    numbers = _persisted(_put(kv, "cam"))
    assert len(numbers) == 2
    kv.advance_clock(HOUR - 5)  # still inside the hour
    assert _listed(kv, "cam") == numbers
    assert _get_media(kv, "cam") == numbers
    kv.advance_clock(10)  # past it
    assert _listed(kv, "cam") == []
    assert _get_media(kv, "cam") == []
    with pytest.raises(ClientError) as err:
        kv.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
            StreamName="cam", Fragments=numbers[:1]
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # The stream itself is untouched and takes new media.
    assert len(_persisted(_put(kv, "cam"))) == 2


def test_newer_fragments_outlive_older_ones(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    first = _persisted(_put(kv, "cam"))
    kv.advance_clock(HOUR / 2)
    second = _persisted(put_media("cam", media=MEDIA, endpoint_url=kv.endpoint_url, session=kv.session(),
                                  timecode_type="RELATIVE", producer_start_timestamp=1_700_000_100))
    kv.advance_clock(HOUR / 2 + 5)
    assert _listed(kv, "cam") == second
    assert set(first).isdisjoint(_get_media(kv, "cam"))


def test_decreasing_retention_drops_older_data_at_once_and_increasing_keeps_it(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=3)
    numbers = _persisted(_put(kv, "cam"))
    kv.advance_clock(2 * HOUR)
    version = kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["Version"]
    kv.kinesisvideo.update_data_retention(StreamName="cam", CurrentVersion=version,
                                          Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=2)
    kv.advance_clock(2 * HOUR)  # 4 h old: kept by the new 5 h retention
    assert _listed(kv, "cam") == numbers
    version = kv.kinesisvideo.describe_stream(StreamName="cam")["StreamInfo"]["Version"]
    kv.kinesisvideo.update_data_retention(StreamName="cam", CurrentVersion=version,
                                          Operation="DECREASE_DATA_RETENTION", DataRetentionChangeInHours=2)
    assert _listed(kv, "cam") == []  # 4 h old, retention now 3 h


def test_retention_zero_serves_live_readers_and_archives_nothing(kv):
    kv.kinesisvideo.create_stream(StreamName="live", DataRetentionInHours=0)
    acks = _put(kv, "live")
    assert [a["EventType"] for a in acks] == ["BUFFERING", "RECEIVED"] * 2
    assert _listed(kv, "live") == []
    received = [a["FragmentNumber"] for a in acks if a["EventType"] == "RECEIVED"]
    # GetMedia reads the service's short host buffer...
    assert _get_media(kv, "live") == received
    with pytest.raises(ClientError) as err:
        kv.archived_media("live", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
            StreamName="live", Fragments=received[:1]
        )
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # ... which keeps fragments for at most five minutes.
    kv.advance_clock(5 * 60 + 1)
    assert _get_media(kv, "live") == []


def test_expired_media_is_freed(kvs):
    kvs.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    _put(kvs, "cam")
    store = backend_for("123456789012", "us-east-1").streams["cam"].store
    assert store.stored_bytes > len(MEDIA) // 2
    kvs.advance_clock(HOUR + 1)
    assert store.expire() == 2
    assert store.stored_bytes == 0 and store.fragments == []


def test_retention_follows_freezegun():
    with freeze_time("2026-01-01 00:00:00") as frozen, mock_kinesisvideo():
        kv = boto3.client("kinesisvideo", region_name="us-east-1")
        kv.create_stream(StreamName="cam", DataRetentionInHours=2)
        put_media("cam", media=MEDIA, region_name="us-east-1")
        endpoint = kv.get_data_endpoint(StreamName="cam", APIName="LIST_FRAGMENTS")["DataEndpoint"]
        archive = boto3.client("kinesis-video-archived-media", endpoint_url=endpoint, region_name="us-east-1")
        listed = archive.list_fragments(StreamName="cam")["Fragments"]
        assert len(listed) == 2
        assert {f["ServerTimestamp"] for f in listed} == {dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc).astimezone()}
        frozen.tick(dt.timedelta(hours=2, seconds=-1))
        assert len(archive.list_fragments(StreamName="cam")["Fragments"]) == 2
        frozen.tick(dt.timedelta(seconds=2))
        assert archive.list_fragments(StreamName="cam")["Fragments"] == []


def test_a_fragment_expires_during_a_live_replay_hls_session(kv):
    import re
    from urllib.parse import urljoin

    import requests

    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    numbers = _persisted(_put(kv, "cam"))
    endpoint = kv.data_endpoint("cam", "GET_HLS_STREAMING_SESSION_URL")
    archive = kv.client("kinesis-video-archived-media", endpoint_url=endpoint)
    url = archive.get_hls_streaming_session_url(
        StreamName="cam", PlaybackMode="LIVE_REPLAY", Expires=43200,
        HLSFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP",
                             "TimestampRange": {"StartTimestamp": 1_700_000_000, "EndTimestamp": 1_700_000_010}},
    )["HLSStreamingSessionURL"]
    master = requests.get(url, timeout=10)
    playlist_url = urljoin(url, [line for line in master.text.splitlines() if line and not line.startswith("#")][0])
    kv.advance_clock(2.1)
    playlist = requests.get(playlist_url, timeout=10).text
    segments = [urljoin(playlist_url, line) for line in playlist.splitlines() if line and not line.startswith("#")]
    assert [re.search(r"FragmentNumber=(\d+)", s).group(1) for s in segments] == numbers
    first = requests.get(segments[0], timeout=10)
    assert first.status_code == 200 and first.headers["Content-Type"] == "video/mp4"

    kv.advance_clock(3600)  # both fragments' retention ends while the session is still open
    gone = requests.get(segments[0], timeout=10)
    assert gone.status_code == 404 and gone.headers["x-amzn-ErrorType"].startswith("ResourceNotFoundException")
    assert "Message" in gone.json()
    playlist = requests.get(playlist_url, timeout=10)
    assert numbers[0] not in playlist.text and numbers[1] not in playlist.text
