"""Every KVS operation is served: the operations kvsmock claims are exactly those of
botocore's five KVS models, each answers a request the way its model says, and one
walk through the kinesisvideo operations gets a success from every one of them."""

from __future__ import annotations

import botocore.session
from botocore import xform_name
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "123456789012"
MODELS = botocore.session.get_session()
OPERATIONS = set(MODELS.get_service_model("kinesisvideo").operation_names)

#: The operations kvsmock serves (README, "What works today"), per service.
EMULATED = {
    "kinesisvideo": {
        "CreateSignalingChannel", "CreateStream", "DeleteEdgeConfiguration", "DeleteSignalingChannel",
        "DeleteStream", "DescribeEdgeConfiguration", "DescribeImageGenerationConfiguration",
        "DescribeMappedResourceConfiguration", "DescribeMediaStorageConfiguration",
        "DescribeNotificationConfiguration", "DescribeSignalingChannel", "DescribeStream",
        "DescribeStreamStorageConfiguration", "GetDataEndpoint", "GetSignalingChannelEndpoint",
        "ListEdgeAgentConfigurations", "ListSignalingChannels", "ListStreams", "ListTagsForResource",
        "ListTagsForStream", "StartEdgeConfigurationUpdate", "TagResource", "TagStream", "UntagResource",
        "UntagStream", "UpdateDataRetention", "UpdateImageGenerationConfiguration",
        "UpdateMediaStorageConfiguration", "UpdateNotificationConfiguration", "UpdateSignalingChannel",
        "UpdateStream", "UpdateStreamStorageConfiguration",
    },
    "kinesis-video-media": {"GetMedia"},
    "kinesis-video-archived-media": {
        "GetClip", "GetDASHStreamingSessionURL", "GetHLSStreamingSessionURL", "GetImages",
        "GetMediaForFragmentList", "ListFragments",
    },
    "kinesis-video-signaling": {"GetIceServerConfig", "SendAlexaOfferToMaster"},
    "kinesis-video-webrtc-storage": {"JoinStorageSession", "JoinStorageSessionAsViewer"},
}
EDGE = {
    "HubDeviceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/hub",
    "RecorderConfig": {
        "MediaSourceConfig": {
            "MediaUriSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:uri",
            "MediaUriType": "RTSP_URI",
        }
    },
}


def test_every_operation_of_the_sdk_is_one_kvsmock_serves():
    """botocore's KVS models hold no operation kvsmock does not serve (a new SDK operation shows up here by name)."""
    for service, emulated in EMULATED.items():
        offered = set(MODELS.get_service_model(service).operation_names)
        assert offered - emulated == set(), f"{service}: operations kvsmock does not serve"
        assert emulated - offered == set(), f"{service}: kvsmock claims operations the SDK does not have"


def _clients(kv) -> dict:
    """A client per KVS service on the endpoint the control plane hands out for it; no client-side validation."""
    c = kv.kinesisvideo
    stream = c.create_stream(StreamName="cam", DataRetentionInHours=1)["StreamARN"]
    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    c.update_media_storage_configuration(
        ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    channel_endpoints = {
        e["Protocol"]: e["ResourceEndpoint"]
        for e in c.get_signaling_channel_endpoint(
            ChannelARN=channel,
            SingleMasterChannelEndpointConfiguration={"Protocols": ["HTTPS", "WEBRTC"], "Role": "MASTER"},
        )["ResourceEndpointList"]
    }
    endpoints = {
        "kinesisvideo": kv.endpoint_url,
        "kinesis-video-media": kv.data_endpoint("cam", "GET_MEDIA"),
        "kinesis-video-archived-media": kv.data_endpoint("cam", "LIST_FRAGMENTS"),
        "kinesis-video-signaling": channel_endpoints["HTTPS"],
        "kinesis-video-webrtc-storage": channel_endpoints["WEBRTC"],
    }
    config = Config(parameter_validation=False, retries={"max_attempts": 1})
    return {service: kv.client(service, endpoint_url=url, config=config) for service, url in endpoints.items()}


def test_every_operation_answers_as_its_model_says(kv):
    """An empty request to each operation is answered by kvsmock itself: a success, or one of the errors
    the operation's model declares, with the model's HTTP status (never UnknownOperation, NotImplemented
    or an internal error)."""
    clients = _clients(kv)
    answered = {}
    for service, client in clients.items():
        model = MODELS.get_service_model(service)
        for operation in model.operation_names:
            declared = {
                shape.name: shape.metadata.get("error", {}).get("httpStatusCode", 400)
                for shape in model.operation_model(operation).error_shapes
            }
            try:
                out = getattr(client, xform_name(operation))()
            except ClientError as err:
                code = err.response["Error"]["Code"]
                status = err.response["ResponseMetadata"]["HTTPStatusCode"]
                assert code in declared, f"{service} {operation}: {code} ({status}) is not an error it declares"
                assert status == declared[code], f"{service} {operation}: {code} with status {status}"
                answered[operation] = code
            else:
                assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
                answered[operation] = "ok"
    assert set(answered) == set().union(*EMULATED.values())
    # Only the list operations need nothing; every other operation names a required member it missed.
    assert {op for op, code in answered.items() if code == "ok"} == {"ListStreams", "ListSignalingChannels"}


def test_every_operation_succeeds(kv):
    c = kv.client("kinesisvideo")
    served: set[str] = set()

    def record(http_response, model, **_):
        if http_response.status_code == 200:
            served.add(model.name)

    c.meta.events.register("after-call.kinesis-video", record)

    def version() -> str:
        return c.describe_stream(StreamName="cam")["StreamInfo"]["Version"]

    stream = c.create_stream(StreamName="cam", DataRetentionInHours=1, Tags={"a": "1"})["StreamARN"]
    c.describe_stream(StreamARN=stream)
    assert c.list_streams()["StreamInfoList"][0]["StreamARN"] == stream
    c.update_stream(StreamName="cam", CurrentVersion=version(), MediaType="video/h264")
    c.update_data_retention(
        StreamName="cam", CurrentVersion=version(), Operation="INCREASE_DATA_RETENTION", DataRetentionChangeInHours=1
    )
    assert c.get_data_endpoint(StreamName="cam", APIName="GET_MEDIA")["DataEndpoint"]
    c.tag_stream(StreamName="cam", Tags={"b": "2"})
    c.untag_stream(StreamName="cam", TagKeyList=["a"])
    assert c.list_tags_for_stream(StreamName="cam")["Tags"] == {"b": "2"}

    channel = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    channel_version = c.describe_signaling_channel(ChannelARN=channel)["ChannelInfo"]["Version"]
    assert c.list_signaling_channels()["ChannelInfoList"][0]["ChannelARN"] == channel
    c.update_signaling_channel(
        ChannelARN=channel, CurrentVersion=channel_version, SingleMasterConfiguration={"MessageTtlSeconds": 30}
    )
    c.tag_resource(ResourceARN=channel, Tags=[{"Key": "k", "Value": "v"}])
    c.untag_resource(ResourceARN=channel, TagKeyList=["nothing"])
    assert c.list_tags_for_resource(ResourceARN=channel)["Tags"] == {"k": "v"}
    c.update_media_storage_configuration(
        ChannelARN=channel, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    assert c.describe_media_storage_configuration(ChannelARN=channel)["MediaStorageConfiguration"]["Status"] == "ENABLED"
    assert c.describe_mapped_resource_configuration(StreamARN=stream)["MappedResourceConfigurationList"]
    protocols = ["WSS", "HTTPS", "WEBRTC"]
    got = c.get_signaling_channel_endpoint(
        ChannelARN=channel, SingleMasterChannelEndpointConfiguration={"Protocols": protocols, "Role": "MASTER"}
    )["ResourceEndpointList"]
    assert [e["Protocol"] for e in got] == protocols

    c.update_image_generation_configuration(
        StreamName="cam",
        ImageGenerationConfiguration={
            "Status": "ENABLED",
            "ImageSelectorType": "SERVER_TIMESTAMP",
            "DestinationConfig": {"Uri": "s3://bucket/prefix", "DestinationRegion": REGION},
            "SamplingInterval": 200,
            "Format": "PNG",
        },
    )
    assert c.describe_image_generation_configuration(StreamName="cam")["ImageGenerationConfiguration"]
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"
    c.update_notification_configuration(
        StreamName="cam", NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": topic}}
    )
    assert c.describe_notification_configuration(StreamName="cam")["NotificationConfiguration"]
    c.update_stream_storage_configuration(
        StreamName="cam", CurrentVersion=version(), StreamStorageConfiguration={"DefaultStorageTier": "WARM"}
    )
    assert c.describe_stream_storage_configuration(StreamName="cam")["StreamStorageConfiguration"] == {
        "DefaultStorageTier": "WARM"
    }

    assert c.start_edge_configuration_update(StreamName="cam", EdgeConfig=EDGE)["SyncStatus"] == "SYNCING"
    assert c.describe_edge_configuration(StreamName="cam")["SyncStatus"] == "SYNCING"
    assert len(c.list_edge_agent_configurations(HubDeviceArn=EDGE["HubDeviceArn"])["EdgeConfigs"]) == 1
    c.delete_edge_configuration(StreamName="cam")

    c.delete_signaling_channel(ChannelARN=channel)
    c.delete_stream(StreamARN=stream, CurrentVersion=version())
    assert c.list_streams()["StreamInfoList"] == []
    assert c.list_signaling_channels()["ChannelInfoList"] == []

    assert served == OPERATIONS, sorted(OPERATIONS - served)
