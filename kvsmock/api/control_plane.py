"""The kinesisvideo control plane: 32 operations on one backend.

Each handler reads the request members (already checked against the API
model), calls the backend's method of the same name with typed arguments,
and shapes the model objects it returns into the response members, as
moto's responses.py does for its models. Endpoint URLs depend on how the
request came, so they are made here too.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from ..errors import InvalidArgumentException
from ..service.backend import KinesisVideoService
from ..service.channels import SignalingChannel
from ..service.edge import EdgeConfiguration, with_edge_defaults
from ..service.pagination import Page
from ..service.streams import Stream
from ..service.tags import tag_list_to_dict
from .endpoints import data_endpoint, signaling_endpoint
from .request import ApiRequest

T = TypeVar("T")
Params = dict[str, Any]
Members = dict[str, Any]


# ------------------------------------------------------------------ shapes
def stream_info(stream: Stream) -> Members:
    """The StreamInfo shape of DescribeStream / ListStreams."""
    out: Members = {}
    if stream.device_name is not None:
        out["DeviceName"] = stream.device_name
    out["StreamName"] = stream.name
    out["StreamARN"] = stream.arn
    if stream.media_type is not None:
        out["MediaType"] = stream.media_type
    out["KmsKeyId"] = stream.kms_key_id
    out["Version"] = stream.version
    out["Status"] = stream.status
    out["CreationTime"] = stream.creation_time
    out["DataRetentionInHours"] = stream.data_retention_hours
    return out


def channel_info(channel: SignalingChannel) -> Members:
    """The ChannelInfo shape of DescribeSignalingChannel / ListSignalingChannels."""
    return {
        "ChannelName": channel.name,
        "ChannelARN": channel.arn,
        "ChannelType": channel.channel_type,
        "ChannelStatus": channel.status,
        "CreationTime": channel.creation_time,
        "SingleMasterConfiguration": {"MessageTtlSeconds": channel.message_ttl_seconds},
        "Version": channel.version,
    }


def media_storage(channel: SignalingChannel) -> Members:
    """The MediaStorageConfiguration shape."""
    out: Members = {"Status": channel.storage_status}
    if channel.storage_stream_arn:
        out["StreamARN"] = channel.storage_stream_arn
    return out


def edge_description(edge: EdgeConfiguration) -> Members:
    """An edge configuration as StartEdgeConfigurationUpdate / DescribeEdgeConfiguration describe it."""
    out: Members = {
        "StreamName": edge.stream_name,
        "StreamARN": edge.stream_arn,
        "CreationTime": edge.creation_time,
        "LastUpdatedTime": edge.last_updated_time,
        "SyncStatus": edge.sync_status,
    }
    if edge.failed_status_details:
        out["FailedStatusDetails"] = edge.failed_status_details
    out["EdgeConfig"] = with_edge_defaults(edge.config)
    return out


def page_members(list_key: str, page: Page[T], shape: Callable[[T], Any]) -> Members:
    """A List operation's members: the page's items under ``list_key``, and NextToken when more follow."""
    out: Members = {list_key: [shape(item) for item in page.items]}
    if page.next_token:
        out["NextToken"] = page.next_token
    return out


def begins_with(condition: dict[str, Any] | None) -> str | None:
    """The name prefix a StreamNameCondition / ChannelNameCondition asks for (None: every name)."""
    if not condition:
        return None
    if condition.get("ComparisonOperator", "BEGINS_WITH") != "BEGINS_WITH":
        raise InvalidArgumentException("BEGINS_WITH is the only supported ComparisonOperator.")
    value = condition.get("ComparisonValue")
    if not value:
        raise InvalidArgumentException("ComparisonValue is required with a name condition.")
    return value


def _stream(p: Params) -> tuple[str | None, str | None]:
    """(StreamName, StreamARN) of a request."""
    return p.get("StreamName"), p.get("StreamARN")


def _channel(p: Params) -> tuple[str | None, str | None]:
    """(ChannelName, ChannelARN) of a request."""
    return p.get("ChannelName"), p.get("ChannelARN")


# ----------------------------------------------------------------- streams
def create_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    stream = backend.create_stream(
        p["StreamName"],
        data_retention_hours=p.get("DataRetentionInHours", 0),
        device_name=p.get("DeviceName"),
        media_type=p.get("MediaType"),
        kms_key_id=p.get("KmsKeyId"),
        storage_tier=(p.get("StreamStorageConfiguration") or {}).get("DefaultStorageTier", "HOT"),
        tags=p.get("Tags") or {},
    )
    return {"StreamARN": stream.arn}


def describe_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return {"StreamInfo": stream_info(backend.describe_stream(*_stream(p)))}


def _named_list(condition: str, list_key: str, shape: Callable[[Any], Members],
                list_method: Callable[..., Page[Any]]) -> Callable[[KinesisVideoService, ApiRequest, Params], Members]:
    """A ListStreams / ListSignalingChannels handler: a name condition, then one page."""

    def handler(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
        page = list_method(backend, begins_with(p.get(condition)), p.get("MaxResults"), p.get("NextToken"))
        return page_members(list_key, page, shape)

    return handler


list_streams = _named_list("StreamNameCondition", "StreamInfoList", stream_info, KinesisVideoService.list_streams)


def delete_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.delete_stream(p["StreamARN"], p.get("CurrentVersion"))
    return {}


def update_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.update_stream(*_stream(p), p["CurrentVersion"], device_name=p.get("DeviceName"), media_type=p.get("MediaType"))
    return {}


def update_data_retention(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    increase = p["Operation"] == "INCREASE_DATA_RETENTION"
    backend.update_data_retention(
        *_stream(p), p["CurrentVersion"], increase=increase, change_hours=p["DataRetentionChangeInHours"]
    )
    return {}


def get_data_endpoint(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    stream = backend.get_data_endpoint(*_stream(p))
    return {"DataEndpoint": data_endpoint(req, stream.endpoint_id, backend.region_name, p["APIName"])}


def describe_stream_storage_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    stream = backend.describe_stream_storage_configuration(*_stream(p))
    return {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStorageConfiguration": {"DefaultStorageTier": stream.storage_tier},
    }


def update_stream_storage_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    tier = p["StreamStorageConfiguration"]["DefaultStorageTier"]
    backend.update_stream_storage_configuration(*_stream(p), p["CurrentVersion"], tier)
    return {}


# ---------------------------------------------------------------- channels
def create_signaling_channel(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    channel = backend.create_signaling_channel(
        p["ChannelName"],
        channel_type=p.get("ChannelType", "SINGLE_MASTER"),
        message_ttl_seconds=(p.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds"),
        tags=tag_list_to_dict(p.get("Tags")),
    )
    return {"ChannelARN": channel.arn}


def describe_signaling_channel(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return {"ChannelInfo": channel_info(backend.describe_signaling_channel(*_channel(p)))}


list_signaling_channels = _named_list(
    "ChannelNameCondition", "ChannelInfoList", channel_info, KinesisVideoService.list_signaling_channels
)


def update_signaling_channel(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    ttl = (p.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds")
    backend.update_signaling_channel(p["ChannelARN"], p["CurrentVersion"], ttl)
    return {}


def delete_signaling_channel(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.delete_signaling_channel(p["ChannelARN"], p.get("CurrentVersion"))
    return {}


def get_signaling_channel_endpoint(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    config = p.get("SingleMasterChannelEndpointConfiguration") or {}
    found = backend.get_signaling_channel_endpoint(p["ChannelARN"], config.get("Protocols"), config.get("Role", "MASTER"))
    endpoint_id = found.channel.endpoint_id
    return {
        "ResourceEndpointList": [
            {
                "Protocol": protocol,
                "ResourceEndpoint": signaling_endpoint(req, endpoint_id, backend.region_name, protocol, found.role),
            }
            for protocol in found.protocols
        ]
    }


# -------------------------------------------------------------------- tags
def tag_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.tag_stream(*_stream(p), p["Tags"])
    return {}


def untag_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.untag_stream(*_stream(p), p["TagKeyList"])
    return {}


def list_tags_for_stream(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return _tags(backend.list_tags_for_stream(*_stream(p), p.get("NextToken")))


def tag_resource(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.tag_resource(p["ResourceARN"], tag_list_to_dict(p["Tags"]))
    return {}


def untag_resource(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.untag_resource(p["ResourceARN"], p["TagKeyList"])
    return {}


def list_tags_for_resource(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return _tags(backend.list_tags_for_resource(p["ResourceARN"], p.get("NextToken")))


def _tags(page: Page[tuple[str, str]]) -> Members:
    """The Tags map of a ListTagsFor… page."""
    out = page_members("Tags", page, lambda kv: kv)
    out["Tags"] = dict(out["Tags"])
    return out


# ---------------------------------------------------- stream configurations
def _stream_config(member: str, update: Callable[..., None], describe: Callable[..., dict[str, Any] | None]):
    """The Update… and Describe… handlers of a stream configuration kept as the members sent."""

    def update_handler(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
        update(backend, *_stream(p), p.get(member))
        return {}

    def describe_handler(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
        config = describe(backend, *_stream(p))
        return {member: config} if config else {}

    return update_handler, describe_handler


update_image_generation_configuration, describe_image_generation_configuration = _stream_config(
    "ImageGenerationConfiguration",
    KinesisVideoService.update_image_generation_configuration,
    KinesisVideoService.describe_image_generation_configuration,
)
update_notification_configuration, describe_notification_configuration = _stream_config(
    "NotificationConfiguration",
    KinesisVideoService.update_notification_configuration,
    KinesisVideoService.describe_notification_configuration,
)


# ----------------------------------------------------------- media storage
def update_media_storage_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    config = p["MediaStorageConfiguration"]
    backend.update_media_storage_configuration(p["ChannelARN"], config["Status"], config.get("StreamARN"))
    return {}


def describe_media_storage_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return {"MediaStorageConfiguration": media_storage(backend.describe_media_storage_configuration(*_channel(p)))}


def describe_mapped_resource_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    page = backend.describe_mapped_resource_configuration(*_stream(p), p.get("MaxResults"), p.get("NextToken"))
    return page_members("MappedResourceConfigurationList", page, lambda m: {"Type": m.type, "ARN": m.arn})


# ------------------------------------------------------------------- edge
def start_edge_configuration_update(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return edge_description(backend.start_edge_configuration_update(*_stream(p), p["EdgeConfig"]))


def describe_edge_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    return edge_description(backend.describe_edge_configuration(*_stream(p)))


def delete_edge_configuration(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    backend.delete_edge_configuration(*_stream(p))
    return {}


def list_edge_agent_configurations(backend: KinesisVideoService, req: ApiRequest, p: Params) -> Members:
    page = backend.list_edge_agent_configurations(p["HubDeviceArn"], p.get("MaxResults"), p.get("NextToken"))
    return page_members("EdgeConfigs", page, edge_description)
