"""One walk through all 32 kinesisvideo operations of botocore's model, each
answered with success: a guard that no operation is left unserved."""

from __future__ import annotations

import botocore.session

REGION = "us-east-1"
ACCOUNT = "123456789012"
OPERATIONS = set(botocore.session.get_session().get_service_model("kinesisvideo").operation_names)
EDGE = {
    "HubDeviceArn": f"arn:aws:iot:{REGION}:{ACCOUNT}:thing/hub",
    "RecorderConfig": {
        "MediaSourceConfig": {
            "MediaUriSecretArn": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:uri",
            "MediaUriType": "RTSP_URI",
        }
    },
}


def test_there_are_32_operations():
    assert len(OPERATIONS) == 32


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
