"""Regions botocore does not list for KVS are served; names that are no region are refused as AWS does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from kvsmock import put_media, sample_mkv
from kvsmock.signaling import presigned_url

NEW_REGIONS = ["eu-central-2", "ap-southeast-7", "mx-central-1", "ca-west-1"]
NOT_REGIONS = ["us-east1", "local"]


@pytest.fixture(params=["in_process", "server"])
def kv(request):
    return request.getfixturevalue("kvs" if request.param == "in_process" else "kvs_server")


@pytest.mark.parametrize("region", NEW_REGIONS)
def test_a_region_botocore_does_not_list_is_served(kv, region):
    control = kv.client("kinesisvideo", region_name=region)
    arn = control.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    assert arn.startswith(f"arn:aws:kinesisvideo:{region}:")
    endpoint = control.get_data_endpoint(StreamName="cam", APIName="PUT_MEDIA")["DataEndpoint"]
    acks = put_media("cam", media=sample_mkv(duration_s=2, fragment_s=1), region_name=region,
                     endpoint_url=kv.endpoint_url, session=_session(kv, region))
    assert [a["EventType"] for a in acks].count("PERSISTED") == 2
    archive = kv.client("kinesis-video-archived-media", region_name=region, endpoint_url=endpoint)
    fragments = archive.list_fragments(StreamName="cam")["Fragments"]
    assert len(fragments) == 2
    # and it is its own region: us-east-1 does not see it
    assert kv.client("kinesisvideo").list_streams()["StreamInfoList"] == []


@pytest.mark.parametrize("region", NOT_REGIONS)
def test_a_name_that_is_no_region_is_refused_not_500(kv, region):
    control = kv.client("kinesisvideo", region_name=region)
    with pytest.raises(ClientError) as err:
        control.list_streams()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert err.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert "valid region" in err.value.response["Error"]["Message"]


@pytest.mark.parametrize("region", NOT_REGIONS)
def test_signaling_handshake_with_no_region_is_refused(kvs_server, region):
    arn = kvs_server.kinesisvideo.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    url = presigned_url(kvs_server.signaling_url, arn, region_name=region,
                        credentials=_session(kvs_server, region).get_credentials())
    with pytest.raises(InvalidStatus) as err:
        connect(url, ssl=kvs_server.ssl_context(), open_timeout=10)
    assert err.value.response.status_code == 403
    assert err.value.response.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


def _session(kv, region):
    import boto3

    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
