"""Every KVS operation and resource path kvsmock answers, and what answers it.

The paths come from botocore's models (:data:`kvsmock.api.dispatch.ROUTES`
maps each path to its operation); this table maps each operation to its
handler. Control-plane operations are answered by :mod:`kvsmock.api.control_plane`
(which calls the backend method of the same name and shapes its result);
the rest have handlers of their own.
"""

from __future__ import annotations

from . import archived_media, clip_images, control_plane, get_media, put_media, signaling, streaming
from .request import Handler, RawHandler


#: Operation name -> handler(backend, request, params), for every operation of the five KVS services.
HANDLERS: dict[str, Handler] = {
    "CreateSignalingChannel": control_plane.create_signaling_channel,
    "CreateStream": control_plane.create_stream,
    "DeleteEdgeConfiguration": control_plane.delete_edge_configuration,
    "DeleteSignalingChannel": control_plane.delete_signaling_channel,
    "DeleteStream": control_plane.delete_stream,
    "DescribeEdgeConfiguration": control_plane.describe_edge_configuration,
    "DescribeImageGenerationConfiguration": control_plane.describe_image_generation_configuration,
    "DescribeMappedResourceConfiguration": control_plane.describe_mapped_resource_configuration,
    "DescribeMediaStorageConfiguration": control_plane.describe_media_storage_configuration,
    "DescribeNotificationConfiguration": control_plane.describe_notification_configuration,
    "DescribeSignalingChannel": control_plane.describe_signaling_channel,
    "DescribeStream": control_plane.describe_stream,
    "DescribeStreamStorageConfiguration": control_plane.describe_stream_storage_configuration,
    "ListEdgeAgentConfigurations": control_plane.list_edge_agent_configurations,
    "ListSignalingChannels": control_plane.list_signaling_channels,
    "ListStreams": control_plane.list_streams,
    "ListTagsForResource": control_plane.list_tags_for_resource,
    "ListTagsForStream": control_plane.list_tags_for_stream,
    "StartEdgeConfigurationUpdate": control_plane.start_edge_configuration_update,
    "TagResource": control_plane.tag_resource,
    "TagStream": control_plane.tag_stream,
    "UntagResource": control_plane.untag_resource,
    "UntagStream": control_plane.untag_stream,
    "UpdateDataRetention": control_plane.update_data_retention,
    "UpdateImageGenerationConfiguration": control_plane.update_image_generation_configuration,
    "UpdateMediaStorageConfiguration": control_plane.update_media_storage_configuration,
    "UpdateNotificationConfiguration": control_plane.update_notification_configuration,
    "UpdateSignalingChannel": control_plane.update_signaling_channel,
    "UpdateStream": control_plane.update_stream,
    "UpdateStreamStorageConfiguration": control_plane.update_stream_storage_configuration,
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
