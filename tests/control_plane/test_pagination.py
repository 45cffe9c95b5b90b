"""Pagination of every List operation: MaxResults, NextToken, the boto3
paginators, name conditions, and tokens that are not valid."""

from __future__ import annotations

import base64
import json

import pytest
from botocore.exceptions import ClientError

from helpers.quotas import quotas_off

ACCOUNT = "123456789012"
REGION = "us-east-1"
HUB = f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/hub"
EDGE = {
    "HubDeviceArn": HUB,
    "RecorderConfig": {
        "MediaSourceConfig": {
            "MediaUriSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:uri",
            "MediaUriType": "FILE_URI",
        }
    },
}
STREAMS = ["cam-01", "cam-02", "cam-03", "door-1", "door-2", "yard"]


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def names(items: list[dict], key: str) -> list[str]:
    return [item[key] for item in items]


def make_streams(c, names_=STREAMS):
    for name in reversed(names_):
        c.create_stream(StreamName=name, DataRetentionInHours=1)


def make_channels(c, names_=STREAMS):
    for name in reversed(names_):
        c.create_signaling_channel(ChannelName=name)


def walk(call, result_key: str, name_key: str, **kwargs) -> list[list[str]]:
    """Every page of a List operation, following NextToken by hand."""
    pages = []
    token = None
    while True:
        out = call(**kwargs, **({"NextToken": token} if token else {}))
        pages.append(names(out[result_key], name_key))
        token = out.get("NextToken")
        if not token:
            return pages


# ------------------------------------------------------------------ ListStreams
def test_list_streams_pages(kv):
    c = kv.kinesisvideo
    make_streams(c)
    pages = walk(c.list_streams, "StreamInfoList", "StreamName", MaxResults=4)
    assert pages == [STREAMS[:4], STREAMS[4:]]
    assert walk(c.list_streams, "StreamInfoList", "StreamName", MaxResults=1) == [[n] for n in STREAMS]
    assert walk(c.list_streams, "StreamInfoList", "StreamName", MaxResults=6) == [STREAMS]


def test_list_streams_page_boundary_survives_changes(kv):
    c = kv.kinesisvideo
    make_streams(c)
    first = c.list_streams(MaxResults=3)
    assert names(first["StreamInfoList"], "StreamName") == STREAMS[:3]
    # a stream deleted and one created before the marker neither repeat nor shift the next page
    c.delete_stream(StreamARN=c.describe_stream(StreamName="cam-01")["StreamInfo"]["StreamARN"])
    c.create_stream(StreamName="aaa")
    second = c.list_streams(MaxResults=3, NextToken=first["NextToken"])
    assert names(second["StreamInfoList"], "StreamName") == STREAMS[3:]
    assert "NextToken" not in second


def test_list_streams_paginator(kv):
    c = kv.kinesisvideo
    make_streams(c)
    paginator = c.get_paginator("list_streams")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 2}))
    assert [names(p["StreamInfoList"], "StreamName") for p in pages] == [STREAMS[0:2], STREAMS[2:4], STREAMS[4:6]]
    result = paginator.paginate(PaginationConfig={"PageSize": 4, "MaxItems": 5}).build_full_result()
    assert names(result["StreamInfoList"], "StreamName") == STREAMS[:5]
    assert "NextToken" in result
    rest = paginator.paginate(PaginationConfig={"PageSize": 4, "StartingToken": result["NextToken"]})
    assert names(rest.build_full_result()["StreamInfoList"], "StreamName") == STREAMS[5:]


def test_list_streams_begins_with(kv):
    c = kv.kinesisvideo
    make_streams(c)
    condition = {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "cam-"}
    out = c.list_streams(StreamNameCondition=condition)
    assert names(out["StreamInfoList"], "StreamName") == ["cam-01", "cam-02", "cam-03"]
    pages = walk(c.list_streams, "StreamInfoList", "StreamName", MaxResults=2, StreamNameCondition=condition)
    assert pages == [["cam-01", "cam-02"], ["cam-03"]]
    # the operator is optional
    out = c.list_streams(StreamNameCondition={"ComparisonValue": "door"})
    assert names(out["StreamInfoList"], "StreamName") == ["door-1", "door-2"]
    out = c.list_streams(StreamNameCondition={"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "zzz"})
    assert out["StreamInfoList"] == []
    paginated = c.get_paginator("list_streams").paginate(
        StreamNameCondition=condition, PaginationConfig={"PageSize": 1}
    )
    assert names(paginated.build_full_result()["StreamInfoList"], "StreamName") == ["cam-01", "cam-02", "cam-03"]


# -------------------------------------------------------- ListSignalingChannels
def test_list_signaling_channels_pages(kv):
    c = kv.kinesisvideo
    make_channels(c)
    assert walk(c.list_signaling_channels, "ChannelInfoList", "ChannelName", MaxResults=5) == [
        STREAMS[:5],
        STREAMS[5:],
    ]
    paginator = c.get_paginator("list_signaling_channels")
    pages = list(paginator.paginate(PaginationConfig={"PageSize": 3}))
    assert [names(p["ChannelInfoList"], "ChannelName") for p in pages] == [STREAMS[:3], STREAMS[3:]]


def test_list_signaling_channels_begins_with(kv):
    c = kv.kinesisvideo
    make_channels(c)
    condition = {"ComparisonOperator": "BEGINS_WITH", "ComparisonValue": "door"}
    out = c.list_signaling_channels(ChannelNameCondition=condition)
    assert names(out["ChannelInfoList"], "ChannelName") == ["door-1", "door-2"]
    pages = walk(c.list_signaling_channels, "ChannelInfoList", "ChannelName", MaxResults=1, ChannelNameCondition=condition)
    assert pages == [["door-1"], ["door-2"]]


def test_list_signaling_channels_default_page_is_500(kvs):
    # in-process only: 501 creations are quick there (quicker than the 50 a second the service allows)
    c = kvs.kinesisvideo
    with quotas_off(kvs):
        for i in range(501):
            c.create_signaling_channel(ChannelName=f"ch{i:04d}")
    first = c.list_signaling_channels()
    assert len(first["ChannelInfoList"]) == 500
    rest = c.list_signaling_channels(NextToken=first["NextToken"])
    assert names(rest["ChannelInfoList"], "ChannelName") == ["ch0500"]


# --------------------------------------------------- ListEdgeAgentConfigurations
def test_list_edge_agent_configurations_pages(kv):
    c = kv.kinesisvideo
    for name in STREAMS:
        c.create_stream(StreamName=name, DataRetentionInHours=1)
        c.start_edge_configuration_update(StreamName=name, EdgeConfig=EDGE)
    pages = walk(c.list_edge_agent_configurations, "EdgeConfigs", "StreamName", HubDeviceArn=HUB, MaxResults=4)
    assert pages == [STREAMS[:4], STREAMS[4:]]
    paginator = c.get_paginator("list_edge_agent_configurations")
    result = paginator.paginate(HubDeviceArn=HUB, PaginationConfig={"PageSize": 2}).build_full_result()
    assert names(result["EdgeConfigs"], "StreamName") == STREAMS


# ------------------------------------------------ DescribeMappedResourceConfiguration
def test_describe_mapped_resource_configuration_pages(kv):
    c = kv.kinesisvideo
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    c.update_media_storage_configuration(
        ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    out = c.describe_mapped_resource_configuration(StreamName="store", MaxResults=1)
    assert out["MappedResourceConfigurationList"] == [{"Type": "SIGNALING_CHANNEL", "ARN": channel}]
    assert "NextToken" not in out
    paginator = c.get_paginator("describe_mapped_resource_configuration")
    result = paginator.paginate(StreamARN=stream).build_full_result()
    assert result["MappedResourceConfigurationList"] == [{"Type": "SIGNALING_CHANNEL", "ARN": channel}]


# ---------------------------------------------------------- tag listings
def test_tag_listings_hold_all_50_tags_in_one_page(kv):
    c = kv.kinesisvideo
    tags = {f"key-{i:02d}": f"value-{i}" for i in range(50)}
    arn = c.create_stream(StreamName="s", Tags=tags)["StreamARN"]
    out = c.list_tags_for_stream(StreamARN=arn)
    assert out["Tags"] == tags and "NextToken" not in out
    out = c.list_tags_for_resource(ResourceARN=arn)
    assert out["Tags"] == tags and "NextToken" not in out
    channel = c.create_signaling_channel(ChannelName="ch", Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    out = c.list_tags_for_resource(ResourceARN=channel["ChannelARN"])
    assert out["Tags"] == tags and "NextToken" not in out


# ------------------------------------------------------------ invalid tokens
def _forged(kind: str, marker: str = "x") -> str:
    return base64.b64encode(json.dumps({"k": kind, "m": marker}).encode()).decode()


@pytest.mark.parametrize("token", ["garbage", "bm90IGpzb24=", "AAAA", _forged("channels"), _forged("streams", "")[:-4]])
def test_list_streams_invalid_next_token(kv, token):
    c = kv.kinesisvideo
    make_streams(c, ["a", "b"])
    with pytest.raises(ClientError) as e:
        c.list_streams(NextToken=token)
    assert error(e) == ("InvalidArgumentException", 400)
    assert "NextToken" in e.value.response["Error"]["Message"]


def test_tokens_do_not_cross_operations(kv):
    c = kv.kinesisvideo
    make_streams(c, ["a", "b"])
    make_channels(c, ["a", "b"])
    stream_token = c.list_streams(MaxResults=1)["NextToken"]
    channel_token = c.list_signaling_channels(MaxResults=1)["NextToken"]
    with pytest.raises(ClientError) as e:
        c.list_signaling_channels(NextToken=stream_token)
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        c.list_streams(NextToken=channel_token)
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        c.list_edge_agent_configurations(HubDeviceArn=HUB, NextToken=stream_token)
    assert error(e) == ("InvalidArgumentException", 400)


def test_every_list_operation_rejects_a_bad_token(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="s", DataRetentionInHours=1)["StreamARN"]
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    calls = {
        "ListStreams": lambda t: c.list_streams(NextToken=t),
        "ListSignalingChannels": lambda t: c.list_signaling_channels(NextToken=t),
        "ListEdgeAgentConfigurations": lambda t: c.list_edge_agent_configurations(HubDeviceArn=HUB, NextToken=t),
        "DescribeMappedResourceConfiguration": lambda t: c.describe_mapped_resource_configuration(
            StreamARN=arn, NextToken=t
        ),
        "ListTagsForStream": lambda t: c.list_tags_for_stream(StreamARN=arn, NextToken=t),
        "ListTagsForResource": lambda t: c.list_tags_for_resource(ResourceARN=channel, NextToken=t),
    }
    for name, call in calls.items():
        with pytest.raises(ClientError) as e:
            call("invalidtoken")
        assert error(e) == ("InvalidArgumentException", 400), name


def test_max_results_bounds(kv):
    from botocore.config import Config

    c = kv.client("kinesisvideo", config=Config(parameter_validation=False))
    for call in (
        lambda: c.list_streams(MaxResults=0),
        lambda: c.list_streams(MaxResults=10_001),
        lambda: c.list_signaling_channels(MaxResults=10_001),
        lambda: c.list_edge_agent_configurations(HubDeviceArn=HUB, MaxResults=11),
        lambda: c.describe_mapped_resource_configuration(StreamName="s", MaxResults=2),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("InvalidArgumentException", 400)
