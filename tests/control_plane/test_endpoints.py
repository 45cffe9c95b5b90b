"""GetDataEndpoint for every APIName, and data-plane clients on the endpoints
it hands out reaching kvsmock (in-process through moto, or the server)."""

from __future__ import annotations

import datetime as dt
import re

import botocore.session
import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
API_NAMES = botocore.session.get_session().get_service_model("kinesisvideo").shape_for("APIName").enum
LIVE = {"PUT_MEDIA", "GET_MEDIA"}
MISSING_STREAM = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def endpoint(c, api: str, **target) -> str:
    return c.get_data_endpoint(APIName=api, **target)["DataEndpoint"]


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
def _kvsmock_answered(call, operation: str) -> None:
    """The call must be answered by kvsmock: a result, or a KVS error carrying a request id.

    Operations kvsmock does not emulate yet answer 501 NotImplemented naming the
    operation; that is still kvsmock answering (a connection error is not)."""
    try:
        out = call()
    except ClientError as err:
        meta = err.response["ResponseMetadata"]
        assert meta["HTTPHeaders"].get("x-amzn-requestid"), err.response
        code = err.response["Error"]["Code"]
        if code == "NotImplemented":
            assert meta["HTTPStatusCode"] == 501
            assert operation in err.response["Error"]["Message"]
            assert "kvsmock" in err.response["Error"]["Message"]
        else:
            assert code.endswith("Exception"), err.response
            assert meta["HTTPStatusCode"] in (400, 404), err.response
        return
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    payload = out.get("Payload")
    if payload is not None:
        payload.close()


def test_data_plane_clients_reach_kvsmock(kv):
    c = kv.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=1)
    now = dt.datetime.now(dt.timezone.utc)
    hour_ago = now - dt.timedelta(hours=1)
    media = kv.media("cam")
    _kvsmock_answered(lambda: media.get_media(StreamName="cam", StartSelector={"StartSelectorType": "NOW"}), "GetMedia")
    calls = {
        ("LIST_FRAGMENTS", "ListFragments"): lambda a: a.list_fragments(StreamName="cam"),
        ("GET_MEDIA_FOR_FRAGMENT_LIST", "GetMediaForFragmentList"): lambda a: a.get_media_for_fragment_list(
            StreamName="cam", Fragments=["91343852333181432392682062607743920146159169392"]
        ),
        ("GET_CLIP", "GetClip"): lambda a: a.get_clip(
            StreamName="cam",
            ClipFragmentSelector={
                "FragmentSelectorType": "SERVER_TIMESTAMP",
                "TimestampRange": {"StartTimestamp": hour_ago, "EndTimestamp": now},
            },
        ),
        ("GET_HLS_STREAMING_SESSION_URL", "GetHLSStreamingSessionURL"): lambda a: a.get_hls_streaming_session_url(
            StreamName="cam"
        ),
        ("GET_DASH_STREAMING_SESSION_URL", "GetDASHStreamingSessionURL"): lambda a: a.get_dash_streaming_session_url(
            StreamName="cam"
        ),
        ("GET_IMAGES", "GetImages"): lambda a: a.get_images(
            StreamName="cam",
            ImageSelectorType="SERVER_TIMESTAMP",
            StartTimestamp=hour_ago,
            EndTimestamp=now,
            SamplingInterval=3000,
            Format="JPEG",
        ),
    }
    for (api, operation), call in calls.items():
        client = kv.archived_media("cam", api)
        _kvsmock_answered(lambda: call(client), operation)


def test_data_plane_on_unknown_stream_is_not_found(kv):
    kv.kinesisvideo.create_stream(StreamName="cam", DataRetentionInHours=1)
    client = kv.archived_media("cam")
    try:
        client.list_fragments(StreamName="nope")
    except ClientError as err:
        # until ListFragments is emulated, kvsmock says so; once it is, the stream is not found
        assert err.response["Error"]["Code"] in ("ResourceNotFoundException", "NotImplemented")
    else:
        pytest.fail("ListFragments on a stream that does not exist succeeded")
