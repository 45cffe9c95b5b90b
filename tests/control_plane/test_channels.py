"""Signaling channels: Create/Describe/List/Update/DeleteSignalingChannel,
GetSignalingChannelEndpoint and the resource tag operations."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
REGION = "us-east-1"
MISSING_CHANNEL = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/nope/1600000000000"


def error(excinfo) -> tuple[str, int]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def message(excinfo) -> str:
    return excinfo.value.response["Error"]["Message"]


def info_of(c, arn: str) -> dict:
    return c.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]


def endpoints(c, arn: str, protocols: list[str], role: str = "MASTER") -> dict[str, str]:
    out = c.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": protocols, "Role": role}
    )["ResourceEndpointList"]
    assert [e["Protocol"] for e in out] == protocols
    return {e["Protocol"]: e["ResourceEndpoint"] for e in out}


def enable_storage(c, channel_arn: str, stream_name: str = "store") -> str:
    stream_arn = c.create_stream(StreamName=stream_name, DataRetentionInHours=1)["StreamARN"]
    c.update_media_storage_configuration(
        ChannelARN=channel_arn, MediaStorageConfiguration={"StreamARN": stream_arn, "Status": "ENABLED"}
    )
    return stream_arn


# ---------------------------------------------------------- CreateSignalingChannel
def test_create_signaling_channel_defaults(kv):
    c = kv.kinesisvideo
    before = int(time.time() * 1000)
    arn = c.create_signaling_channel(ChannelName="demo-channel")["ChannelARN"]
    after = int(time.time() * 1000)
    m = re.fullmatch(rf"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:channel/demo-channel/(\d+)", arn)
    assert m, arn
    assert before <= int(m.group(1)) <= after
    info = info_of(c, arn)
    assert info["ChannelName"] == "demo-channel"
    assert info["ChannelARN"] == arn
    assert info["ChannelType"] == "SINGLE_MASTER"
    assert info["ChannelStatus"] == "ACTIVE"
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 60}
    assert re.fullmatch(r"[a-zA-Z0-9]{20}", info["Version"])
    assert round(info["CreationTime"].timestamp() * 1000) == int(m.group(1))


def test_create_signaling_channel_with_everything(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(
        ChannelName="full",
        ChannelType="SINGLE_MASTER",
        SingleMasterConfiguration={"MessageTtlSeconds": 120},
        Tags=[{"Key": "team", "Value": "rtc"}, {"Key": "empty", "Value": ""}],
    )["ChannelARN"]
    assert info_of(c, arn)["SingleMasterConfiguration"] == {"MessageTtlSeconds": 120}
    assert c.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"team": "rtc", "empty": ""}


def test_create_signaling_channel_duplicate(kv):
    c = kv.kinesisvideo
    c.create_signaling_channel(ChannelName="dup")
    with pytest.raises(ClientError) as e:
        c.create_signaling_channel(ChannelName="dup")
    assert error(e) == ("ResourceInUseException", 400)
    # a stream may share the name of a channel
    c.create_stream(StreamName="dup")


def test_create_signaling_channel_full_mesh_unsupported(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.create_signaling_channel(ChannelName="mesh", ChannelType="FULL_MESH")
    assert error(e) == ("InvalidArgumentException", 400)
    assert "SINGLE_MASTER" in message(e)


@pytest.mark.parametrize("ttl", [4, 121])
def test_create_signaling_channel_ttl_bounds(kv, ttl):
    import botocore.config

    c = kv.client("kinesisvideo", config=botocore.config.Config(parameter_validation=False))
    with pytest.raises(ClientError) as e:
        c.create_signaling_channel(ChannelName="c", SingleMasterConfiguration={"MessageTtlSeconds": ttl})
    assert error(e) == ("InvalidArgumentException", 400)


def test_create_signaling_channel_51_tags(kv):
    c = kv.kinesisvideo
    with pytest.raises(ClientError) as e:
        c.create_signaling_channel(ChannelName="c", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)
    assert c.list_signaling_channels()["ChannelInfoList"] == []


def test_create_signaling_channel_reserved_tag(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.create_signaling_channel(ChannelName="c", Tags=[{"Key": "aws:x", "Value": "v"}])
    assert error(e) == ("InvalidArgumentException", 400)


def test_create_signaling_channel_account_limit(kvs, monkeypatch):
    import kvsmock.service.control.channels as backend

    monkeypatch.setattr(backend, "channel_limit", lambda region: 1)
    c = kvs.kinesisvideo
    c.create_signaling_channel(ChannelName="one")
    with pytest.raises(ClientError) as e:
        c.create_signaling_channel(ChannelName="two")
    assert error(e) == ("AccountChannelLimitExceededException", 400)


# -------------------------------------------------------- DescribeSignalingChannel
def test_describe_signaling_channel_by_name_or_arn(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    assert c.describe_signaling_channel(ChannelName="ch")["ChannelInfo"] == info_of(c, arn)


def test_describe_signaling_channel_unknown(kv):
    c = kv.kinesisvideo
    for kwargs in ({"ChannelName": "nope"}, {"ChannelARN": MISSING_CHANNEL}):
        with pytest.raises(ClientError) as e:
            c.describe_signaling_channel(**kwargs)
        assert error(e) == ("ResourceNotFoundException", 404)


def test_describe_signaling_channel_needs_name_or_arn(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.describe_signaling_channel()
    assert error(e) == ("InvalidArgumentException", 400)


# ----------------------------------------------------------- ListSignalingChannels
def test_list_signaling_channels(kv):
    c = kv.kinesisvideo
    assert c.list_signaling_channels()["ChannelInfoList"] == []
    arns = {name: c.create_signaling_channel(ChannelName=name)["ChannelARN"] for name in ("zeta", "alpha", "mid")}
    out = c.list_signaling_channels()
    assert [ch["ChannelName"] for ch in out["ChannelInfoList"]] == ["alpha", "mid", "zeta"]
    assert out["ChannelInfoList"][0] == info_of(c, arns["alpha"])
    assert "NextToken" not in out
    # streams are not channels
    c.create_stream(StreamName="s")
    assert len(c.list_signaling_channels()["ChannelInfoList"]) == 3


# ---------------------------------------------------------- UpdateSignalingChannel
def test_update_signaling_channel(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    v1 = info_of(c, arn)["Version"]
    c.update_signaling_channel(ChannelARN=arn, CurrentVersion=v1, SingleMasterConfiguration={"MessageTtlSeconds": 5})
    info = info_of(c, arn)
    assert info["SingleMasterConfiguration"] == {"MessageTtlSeconds": 5}
    assert info["Version"] != v1 and re.fullmatch(r"[a-zA-Z0-9]{20}", info["Version"])
    # no configuration: still a new version
    c.update_signaling_channel(ChannelARN=arn, CurrentVersion=info["Version"])
    assert info_of(c, arn)["Version"] not in (v1, info["Version"])
    assert info_of(c, arn)["SingleMasterConfiguration"] == {"MessageTtlSeconds": 5}


def test_update_signaling_channel_version_mismatch(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    old = info_of(c, arn)["Version"]
    c.update_signaling_channel(ChannelARN=arn, CurrentVersion=old, SingleMasterConfiguration={"MessageTtlSeconds": 30})
    with pytest.raises(ClientError) as e:
        c.update_signaling_channel(
            ChannelARN=arn, CurrentVersion=old, SingleMasterConfiguration={"MessageTtlSeconds": 90}
        )
    assert error(e) == ("VersionMismatchException", 400)
    assert info_of(c, arn)["SingleMasterConfiguration"] == {"MessageTtlSeconds": 30}


def test_update_signaling_channel_unknown(kv):
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.update_signaling_channel(ChannelARN=MISSING_CHANNEL, CurrentVersion="v1")
    assert error(e) == ("ResourceNotFoundException", 404)


# ---------------------------------------------------------- DeleteSignalingChannel
def test_delete_signaling_channel(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    c.delete_signaling_channel(ChannelARN=arn)
    with pytest.raises(ClientError) as e:
        info_of(c, arn)
    assert error(e) == ("ResourceNotFoundException", 404)
    assert c.list_signaling_channels()["ChannelInfoList"] == []
    with pytest.raises(ClientError) as e:
        c.delete_signaling_channel(ChannelARN=arn)
    assert error(e) == ("ResourceNotFoundException", 404)


def test_delete_signaling_channel_with_current_version(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    old = info_of(c, arn)["Version"]
    c.update_signaling_channel(ChannelARN=arn, CurrentVersion=old, SingleMasterConfiguration={"MessageTtlSeconds": 10})
    with pytest.raises(ClientError) as e:
        c.delete_signaling_channel(ChannelARN=arn, CurrentVersion=old)
    assert error(e) == ("VersionMismatchException", 400)
    assert info_of(c, arn)["ChannelStatus"] == "ACTIVE"
    c.delete_signaling_channel(ChannelARN=arn, CurrentVersion=info_of(c, arn)["Version"])
    assert c.list_signaling_channels()["ChannelInfoList"] == []


def test_delete_signaling_channel_unmaps_its_stream(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    enable_storage(c, arn, "store")
    assert c.describe_mapped_resource_configuration(StreamName="store")["MappedResourceConfigurationList"]
    c.delete_signaling_channel(ChannelARN=arn)
    assert c.describe_mapped_resource_configuration(StreamName="store")["MappedResourceConfigurationList"] == []


# ----------------------------------------------------- GetSignalingChannelEndpoint
def test_signaling_endpoints_in_process(kvs):
    c = kvs.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    host = r"\.kinesisvideo\.us-east-1\.amazonaws\.com"
    master = endpoints(c, arn, ["WSS", "HTTPS"], "MASTER")
    viewer = endpoints(c, arn, ["HTTPS", "WSS"], "VIEWER")
    assert re.fullmatch(rf"wss://m-[0-9a-f]{{8}}{host}", master["WSS"])
    assert re.fullmatch(rf"wss://v-[0-9a-f]{{8}}{host}", viewer["WSS"])
    assert re.fullmatch(rf"https://r-[0-9a-f]{{8}}{host}", master["HTTPS"])
    assert master["HTTPS"] == viewer["HTTPS"]
    # stable for the channel
    assert endpoints(c, arn, ["WSS"], "MASTER")["WSS"] == master["WSS"]
    # another channel gets other hosts
    other = c.create_signaling_channel(ChannelName="other")["ChannelARN"]
    assert endpoints(c, other, ["HTTPS"])["HTTPS"] != master["HTTPS"]


def test_signaling_endpoints_in_server(kvs_server):
    c = kvs_server.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    base = kvs_server.endpoint_url
    for role in ("MASTER", "VIEWER"):
        got = endpoints(c, arn, ["WSS", "HTTPS"], role)
        assert got["HTTPS"] == base
        assert got["WSS"] == kvs_server.signaling_url  # the signaling port, beside the HTTP port
        assert got["WSS"].startswith("wss://127.0.0.1:")  # wss:// as the service hands out (ws:// works there too)


def test_signaling_endpoint_default_configuration(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    out = c.get_signaling_channel_endpoint(ChannelARN=arn)["ResourceEndpointList"]
    assert {e["Protocol"] for e in out} == {"WSS", "HTTPS"}


def test_signaling_endpoint_webrtc_needs_media_storage(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        endpoints(c, arn, ["WEBRTC"])
    assert error(e) == ("InvalidArgumentException", 400)
    assert "WEBRTC" in message(e)
    enable_storage(c, arn)
    got = endpoints(c, arn, ["WSS", "HTTPS", "WEBRTC"], "MASTER")
    assert got["WEBRTC"].startswith(("https://", "http://"))
    assert set(got) == {"WSS", "HTTPS", "WEBRTC"}
    got = endpoints(c, arn, ["WEBRTC"], "VIEWER")
    assert got["WEBRTC"]
    # disabling storage takes WEBRTC away again
    c.update_media_storage_configuration(ChannelARN=arn, MediaStorageConfiguration={"Status": "DISABLED"})
    with pytest.raises(ClientError) as e:
        endpoints(c, arn, ["WEBRTC"])
    assert error(e) == ("InvalidArgumentException", 400)


def test_signaling_endpoint_duplicate_protocol(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        endpoints(c, arn, ["WSS", "WSS"])
    assert error(e) == ("InvalidArgumentException", 400)


def test_signaling_endpoint_unknown_channel(kv):
    with pytest.raises(ClientError) as e:
        endpoints(kv.kinesisvideo, MISSING_CHANNEL, ["WSS"])
    assert error(e) == ("ResourceNotFoundException", 404)


def test_signaling_endpoint_bad_role(kv):
    import botocore.config

    c = kv.client("kinesisvideo", config=botocore.config.Config(parameter_validation=False))
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        endpoints(c, arn, ["WSS"], role="BOSS")
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        endpoints(c, arn, ["FTP"])
    assert error(e) == ("InvalidArgumentException", 400)


# ------------------------------------------------------------ resource tags
def test_tag_untag_list_resource_on_channel(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch", Tags=[{"Key": "a", "Value": "1"}])["ChannelARN"]
    c.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "new"}])
    assert c.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"a": "new", "b": "2"}
    c.untag_resource(ResourceARN=arn, TagKeyList=["a", "missing"])
    out = c.list_tags_for_resource(ResourceARN=arn)
    assert out["Tags"] == {"b": "2"}
    assert "NextToken" not in out


def test_tag_resource_on_stream(kv):
    c = kv.kinesisvideo
    arn = c.create_stream(StreamName="s", Tags={"x": "1"})["StreamARN"]
    c.tag_resource(ResourceARN=arn, Tags=[{"Key": "y", "Value": "2"}])
    assert c.list_tags_for_resource(ResourceARN=arn)["Tags"] == {"x": "1", "y": "2"}
    assert c.list_tags_for_stream(StreamARN=arn)["Tags"] == {"x": "1", "y": "2"}
    c.untag_resource(ResourceARN=arn, TagKeyList=["x"])
    assert c.list_tags_for_stream(StreamName="s")["Tags"] == {"y": "2"}


def test_tag_resource_51st_tag(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(
        ChannelName="ch", Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    )["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.tag_resource(ResourceARN=arn, Tags=[{"Key": "k50", "Value": "v"}])
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)
    assert len(c.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 50


def test_tag_resource_51_in_one_request(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.tag_resource(ResourceARN=arn, Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error(e) == ("TagsPerResourceExceededLimitException", 400)


def test_tag_resource_reserved_prefix(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.tag_resource(ResourceARN=arn, Tags=[{"Key": "aws:cloudformation:stack", "Value": "v"}])
    assert error(e) == ("InvalidArgumentException", 400)
    assert c.list_tags_for_resource(ResourceARN=arn)["Tags"] == {}


@pytest.mark.parametrize(
    "arn",
    [MISSING_CHANNEL, f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/nope/1600000000000"],
)
def test_resource_tag_operations_unknown(kv, arn):
    c = kv.kinesisvideo
    for call in (
        lambda: c.tag_resource(ResourceARN=arn, Tags=[{"Key": "a", "Value": "b"}]),
        lambda: c.untag_resource(ResourceARN=arn, TagKeyList=["a"]),
        lambda: c.list_tags_for_resource(ResourceARN=arn),
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert error(e) == ("ResourceNotFoundException", 404)


def test_resource_tag_operations_other_resource_type(kv):
    arn = f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:bucket/nope/1600000000000"
    with pytest.raises(ClientError) as e:
        kv.kinesisvideo.list_tags_for_resource(ResourceARN=arn)
    assert error(e)[1] == 400
    assert error(e)[0] in ("InvalidArgumentException", "InvalidResourceFormatException")


def test_list_tags_for_resource_invalid_next_token(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch", Tags=[{"Key": "a", "Value": "b"}])["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.list_tags_for_resource(ResourceARN=arn, NextToken="garbage")
    assert error(e) == ("InvalidArgumentException", 400)


def test_deleting_a_channel_leaves_another_channels_mapping(kv):
    c = kv.kinesisvideo
    stream = c.create_stream(StreamName="store", DataRetentionInHours=1)["StreamARN"]
    first = c.create_signaling_channel(ChannelName="first")["ChannelARN"]
    second = c.create_signaling_channel(ChannelName="second")["ChannelARN"]
    # the first channel names the stream but stays DISABLED; the second maps it
    c.update_media_storage_configuration(
        ChannelARN=first, MediaStorageConfiguration={"StreamARN": stream, "Status": "DISABLED"}
    )
    c.update_media_storage_configuration(
        ChannelARN=second, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    c.delete_signaling_channel(ChannelARN=first)
    mapped = c.describe_mapped_resource_configuration(StreamARN=stream)["MappedResourceConfigurationList"]
    assert mapped == [{"Type": "SIGNALING_CHANNEL", "ARN": second}]
    # and so the stream still cannot be mapped by a third channel
    third = c.create_signaling_channel(ChannelName="third")["ChannelARN"]
    with pytest.raises(ClientError) as e:
        c.update_media_storage_configuration(
            ChannelARN=third, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
        )
    assert error(e) == ("ResourceInUseException", 400)


def _kvsmock_answered(call, operation: str) -> None:
    """Answered by kvsmock: a result, or a KVS error with a request id (501 NotImplemented
    naming the operation while kvsmock does not emulate it) — not a connection error."""
    try:
        out = call()
    except ClientError as err:
        meta = err.response["ResponseMetadata"]
        assert meta["HTTPHeaders"].get("x-amzn-requestid"), err.response
        if err.response["Error"]["Code"] == "NotImplemented":
            assert meta["HTTPStatusCode"] == 501
            assert operation in err.response["Error"]["Message"]
        else:
            assert meta["HTTPStatusCode"] in (400, 401, 403, 404), err.response
        return
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_signaling_data_plane_clients_reach_kvsmock(kv):
    c = kv.kinesisvideo
    arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    signaling = kv.signaling(arn)
    _kvsmock_answered(lambda: signaling.get_ice_server_config(ChannelARN=arn, ClientId="viewer-1"), "GetIceServerConfig")
    enable_storage(c, arn)
    storage = kv.webrtc_storage(arn)
    _kvsmock_answered(lambda: storage.join_storage_session(channelArn=arn), "JoinStorageSession")
