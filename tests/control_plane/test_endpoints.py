"""GetDataEndpoint for every APIName, and data-plane clients on the endpoints
it hands out reaching kvsmock (in-process through moto, or the server)."""

from __future__ import annotations

import base64
import datetime as dt
import re

import botocore.session
import pytest
import requests
from botocore.exceptions import ClientError

from helpers.quotas import paced
from kvsmock import put_media, read_fragments, sample_mkv

ACCOUNT = "123456789012"
REGION = "us-east-1"
API_NAMES = botocore.session.get_session().get_service_model("kinesisvideo").shape_for("APIName").enum
LIVE = {"PUT_MEDIA", "GET_MEDIA"}
MISSING_STREAM = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def endpoint(c, api: str, **target) -> str:
    """GetDataEndpoint's answer (at the pace the service allows: 5 a second per stream)."""
    return paced(c.get_data_endpoint, APIName=api, **target)["DataEndpoint"]


def test_every_api_name_is_covered():
    assert set(API_NAMES) == {
        "PUT_MEDIA",
        "GET_MEDIA",
        "LIST_FRAGMENTS",
        "GET_MEDIA_FOR_FRAGMENT_LIST",
        "GET_HLS_STREAMING_SESSION_URL",
        "GET_DASH_STREAMING_SESSION_URL",
        "GET_CLIP",
        "GET_IMAGES",
    }


def test_data_endpoints_in_process(kvs):
    c = kvs.kinesisvideo
    arn = c.create_stream(StreamName="cam")["StreamARN"]
    got = {api: endpoint(c, api, StreamName="cam") for api in API_NAMES}
    ids = set()
    for api, url in got.items():
        prefix = "s" if api in LIVE else "b"
        m = re.fullmatch(rf"https://{prefix}-([0-9a-f]{{8}})\.kinesisvideo\.{REGION}\.amazonaws\.com", url)
        assert m, (api, url)
        ids.add(m.group(1))
    assert len(ids) == 1  # one id per stream
    # by ARN: the same answers
    assert {api: endpoint(c, api, StreamARN=arn) for api in API_NAMES} == got
    # another stream: other hosts
    c.create_stream(StreamName="other")
    assert endpoint(c, "GET_MEDIA", StreamName="other") != got["GET_MEDIA"]


def test_data_endpoints_in_other_regions(kvs):
    c = kvs.client("kinesisvideo", region_name="eu-central-1")
    c.create_stream(StreamName="cam")
    url = endpoint(c, "GET_CLIP", StreamName="cam")
    assert re.fullmatch(r"https://b-[0-9a-f]{8}\.kinesisvideo\.eu-central-1\.amazonaws\.com", url)
    cn = kvs.client("kinesisvideo", region_name="cn-north-1")
    arn = cn.create_stream(StreamName="cam")["StreamARN"]
    assert arn.startswith(f"arn:aws-cn:kinesisvideo:cn-north-1:{ACCOUNT}:stream/cam/")
    url = endpoint(cn, "PUT_MEDIA", StreamName="cam")
    assert re.fullmatch(r"https://s-[0-9a-f]{8}\.kinesisvideo\.cn-north-1\.amazonaws\.com\.cn", url)


def test_data_endpoints_in_server(kvs_server):
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="cam")
    for api in API_NAMES:
        assert endpoint(c, api, StreamName="cam") == kvs_server.endpoint_url


def test_data_endpoint_unknown_stream(kv):
    c = kv.kinesisvideo
    for target in ({"StreamName": "nope"}, {"StreamARN": MISSING_STREAM}):
        with pytest.raises(ClientError) as e:
            endpoint(c, "GET_MEDIA", **target)
        assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        endpoint(c, "GET_MEDIA")
    assert error(e) == ("InvalidArgumentException", 400)


def test_data_endpoint_bad_api_name(kv):
    from botocore.config import Config

    c = kv.client("kinesisvideo", config=Config(parameter_validation=False))
    c.create_stream(StreamName="cam")
    with pytest.raises(ClientError) as e:
        endpoint(c, "GET_EVERYTHING", StreamName="cam")
    assert error(e) == ("InvalidArgumentException", 400)


# ------------------------------------------------- data-plane clients reach kvsmock
START = 1_700_000_000


def _stream_with_media(kv, name: str = "cam") -> list[str]:
    """A stream holding three 2-second fragments (producer time START..START+6); their fragment numbers."""
    kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    acks = put_media(
        name, media=sample_mkv(duration_s=6, fragment_s=2, start=0), endpoint_url=kv.endpoint_url,
        session=kv.session(), timecode_type="RELATIVE", producer_start_timestamp=START,
    )
    numbers = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
    assert len(numbers) == 3
    return numbers


def test_data_plane_clients_reach_kvsmock(kv):
    """Each data-plane client, on the endpoint GetDataEndpoint named for it, gets its operation's real answer."""
    numbers = _stream_with_media(kv)
    producer_range = {
        "StartTimestamp": dt.datetime.fromtimestamp(START, dt.timezone.utc),
        "EndTimestamp": dt.datetime.fromtimestamp(START + 6, dt.timezone.utc),
    }

    out = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "EARLIEST"})
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200 and out["ContentType"] == "video/webm"
    assert [f.fragment_number for f in read_fragments(out["Payload"].read())] == numbers

    listed = kv.archived_media("cam", "LIST_FRAGMENTS").list_fragments(StreamName="cam")["Fragments"]
    assert sorted(f["FragmentNumber"] for f in listed) == numbers

    payload = kv.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST").get_media_for_fragment_list(
        StreamName="cam", Fragments=numbers[1:]
    )["Payload"].read()
    assert [f.fragment_number for f in read_fragments(payload)] == numbers[1:]

    clip = kv.archived_media("cam", "GET_CLIP").get_clip(
        StreamName="cam",
        ClipFragmentSelector={"FragmentSelectorType": "PRODUCER_TIMESTAMP", "TimestampRange": producer_range},
    )
    assert clip["ContentType"] == "video/mp4"
    assert clip["Payload"].read()[4:8] == b"ftyp"  # an MP4 file

    for api, call, key, resource, opening in (
        ("GET_HLS_STREAMING_SESSION_URL", "get_hls_streaming_session_url", "HLSStreamingSessionURL",
         "/hls/v1/getHLSMasterPlaylist.m3u8?SessionToken=", "#EXTM3U"),
        ("GET_DASH_STREAMING_SESSION_URL", "get_dash_streaming_session_url", "DASHStreamingSessionURL",
         "/dash/v1/getDASHManifest.mpd?SessionToken=", "<?xml"),
    ):
        endpoint = kv.data_endpoint("cam", api)
        url = getattr(kv.archived_media("cam", api), call)(StreamName="cam")[key]  # LIVE: fragments of the last 30 s
        assert url.startswith(endpoint.rstrip("/") + resource), url
        served = requests.get(url, timeout=10)  # the session URL serves its playlist / manifest
        assert served.status_code == 200 and served.text.startswith(opening), served.text[:200]

    images = kv.archived_media("cam", "GET_IMAGES").get_images(
        StreamName="cam",
        ImageSelectorType="PRODUCER_TIMESTAMP",
        StartTimestamp=producer_range["StartTimestamp"],
        EndTimestamp=producer_range["EndTimestamp"] - dt.timedelta(seconds=1),
        SamplingInterval=2000,
        Format="JPEG",
    )["Images"]
    assert [image["TimeStamp"].timestamp() for image in images] == [START, START + 2, START + 4]
    assert all("Error" not in image and base64.b64decode(image["ImageContent"])[:2] == b"\xff\xd8" for image in images)


def _error(call) -> tuple[str, int]:
    with pytest.raises(ClientError) as e:
        call()
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid"), e.value.response
    return error(e)


def test_data_plane_on_a_stream_without_fragments(kv):
    """What each data-plane operation answers for a stream that exists but holds no media."""
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    now = dt.datetime.now(dt.timezone.utc)
    hour_ago, past = now - dt.timedelta(hours=1), now - dt.timedelta(seconds=1)

    out = kv.media("cam").get_media(StreamName="cam", StartSelector={"StartSelectorType": "NOW"})
    assert out["ContentType"] == "video/webm" and out["Payload"].read() == b""  # nothing to send, and it ends
    assert kv.archived_media("cam", "LIST_FRAGMENTS").list_fragments(StreamName="cam")["Fragments"] == []
    listed = kv.archived_media("cam", "GET_MEDIA_FOR_FRAGMENT_LIST")
    assert _error(
        lambda: listed.get_media_for_fragment_list(StreamName="cam", Fragments=["91343852333181432392682062607743920146159169392"])
    ) == ("ResourceNotFoundException", 404)
    clip = kv.archived_media("cam", "GET_CLIP")
    assert _error(
        lambda: clip.get_clip(
            StreamName="cam",
            ClipFragmentSelector={
                "FragmentSelectorType": "SERVER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": hour_ago, "EndTimestamp": past},
            },
        )
    ) == ("ResourceNotFoundException", 404)
    hls = kv.archived_media("cam", "GET_HLS_STREAMING_SESSION_URL")
    assert _error(lambda: hls.get_hls_streaming_session_url(StreamName="cam")) == ("ResourceNotFoundException", 404)
    dash = kv.archived_media("cam", "GET_DASH_STREAMING_SESSION_URL")
    assert _error(lambda: dash.get_dash_streaming_session_url(StreamName="cam")) == ("ResourceNotFoundException", 404)
    images = kv.archived_media("cam", "GET_IMAGES").get_images(
        StreamName="cam", ImageSelectorType="SERVER_TIMESTAMP", StartTimestamp=past - dt.timedelta(seconds=9),
        EndTimestamp=past, SamplingInterval=3000, Format="JPEG",
    )["Images"]
    assert images and all(image["Error"] == "NO_MEDIA" and "ImageContent" not in image for image in images)


def test_data_plane_on_unknown_stream_is_not_found(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    client = kv.archived_media("cam")
    assert _error(lambda: client.list_fragments(StreamName="nope")) == ("ResourceNotFoundException", 404)
    media = kv.media("cam")
    assert _error(
        lambda: media.get_media(StreamName="nope", StartSelector={"StartSelectorType": "NOW"})
    ) == ("ResourceNotFoundException", 404)
