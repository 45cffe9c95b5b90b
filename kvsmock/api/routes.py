"""Every KVS operation and resource path kvsmock answers, and what answers it.

The paths come from botocore's models (:data:`kvsmock.api.dispatch.ROUTES`
maps each path to its operation); this table maps each operation to its
handler. Control-plane operations that only need the backend call its
method of the same name; the rest have handlers of their own.
"""

from __future__ import annotations

from typing import Any, Callable

from ..service.backend import KinesisVideoService
from . import archived_media, clip_images, control_plane, get_media, put_media, signaling, streaming
from .request import ApiRequest, Handler, RawHandler


def _backend(method: Callable[[KinesisVideoService, dict[str, Any]], dict[str, Any]]) -> Handler:
    """A handler that answers with the backend method's result."""

    def handler(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
        return method(backend, params)

    return handler


#: Operation name -> handler(backend, request, params), for every operation of the five KVS services.
HANDLERS: dict[str, Handler] = {
    "CreateSignalingChannel": _backend(KinesisVideoService.create_signaling_channel),
    "CreateStream": _backend(KinesisVideoService.create_stream),
    "DeleteEdgeConfiguration": _backend(KinesisVideoService.delete_edge_configuration),
    "DeleteSignalingChannel": _backend(KinesisVideoService.delete_signaling_channel),
    "DeleteStream": _backend(KinesisVideoService.delete_stream),
    "DescribeEdgeConfiguration": _backend(KinesisVideoService.describe_edge_configuration),
    "DescribeImageGenerationConfiguration": _backend(KinesisVideoService.describe_image_generation_configuration),
    "DescribeMappedResourceConfiguration": _backend(KinesisVideoService.describe_mapped_resource_configuration),
    "DescribeMediaStorageConfiguration": _backend(KinesisVideoService.describe_media_storage_configuration),
    "DescribeNotificationConfiguration": _backend(KinesisVideoService.describe_notification_configuration),
    "DescribeSignalingChannel": _backend(KinesisVideoService.describe_signaling_channel),
    "DescribeStream": _backend(KinesisVideoService.describe_stream),
    "DescribeStreamStorageConfiguration": _backend(KinesisVideoService.describe_stream_storage_configuration),
    "ListEdgeAgentConfigurations": _backend(KinesisVideoService.list_edge_agent_configurations),
    "ListSignalingChannels": _backend(KinesisVideoService.list_signaling_channels),
    "ListStreams": _backend(KinesisVideoService.list_streams),
    "ListTagsForResource": _backend(KinesisVideoService.list_tags_for_resource),
    "ListTagsForStream": _backend(KinesisVideoService.list_tags_for_stream),
    "StartEdgeConfigurationUpdate": _backend(KinesisVideoService.start_edge_configuration_update),
    "TagResource": _backend(KinesisVideoService.tag_resource),
    "TagStream": _backend(KinesisVideoService.tag_stream),
    "UntagResource": _backend(KinesisVideoService.untag_resource),
    "UntagStream": _backend(KinesisVideoService.untag_stream),
    "UpdateDataRetention": _backend(KinesisVideoService.update_data_retention),
    "UpdateImageGenerationConfiguration": _backend(KinesisVideoService.update_image_generation_configuration),
    "UpdateMediaStorageConfiguration": _backend(KinesisVideoService.update_media_storage_configuration),
    "UpdateNotificationConfiguration": _backend(KinesisVideoService.update_notification_configuration),
    "UpdateSignalingChannel": _backend(KinesisVideoService.update_signaling_channel),
    "UpdateStream": _backend(KinesisVideoService.update_stream),
    "UpdateStreamStorageConfiguration": _backend(KinesisVideoService.update_stream_storage_configuration),
    "GetDataEndpoint": control_plane.get_data_endpoint,
    "GetSignalingChannelEndpoint": control_plane.get_signaling_channel_endpoint,
    # kinesis-video-media
    "GetMedia": get_media.get_media,
    # kinesis-video-archived-media
    "ListFragments": archived_media.list_fragments,
    "GetMediaForFragmentList": archived_media.get_media_for_fragment_list,
    "GetClip": clip_images.get_clip,
    "GetImages": clip_images.get_images,
    "GetHLSStreamingSessionURL": streaming.get_hls_streaming_session_url,
    "GetDASHStreamingSessionURL": streaming.get_dash_streaming_session_url,
    # kinesis-video-signaling and kinesis-video-webrtc-storage
    "GetIceServerConfig": signaling.get_ice_server_config,
    "SendAlexaOfferToMaster": signaling.send_alexa_offer_to_master,
    "JoinStorageSession": signaling.join_storage_session,
    "JoinStorageSessionAsViewer": signaling.join_storage_session_as_viewer,
}

#: Paths outside the botocore models -> handler(backend lookup, request): PutMedia and the HLS/DASH resources.
RAW_ROUTES: dict[str, RawHandler] = {
    "/putMedia": put_media.put_media,
    **streaming.RESOURCES,
}
