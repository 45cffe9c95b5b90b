"""The KVS service for one account and region.

One instance holds every stream, signaling channel and configuration of an
account in a region; all five KVS endpoints share it. Control-plane
operations are methods named after the operation (``create_stream`` for
CreateStream) that take the request members as a dict, already checked
against the API model, and return the response members as a dict.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from .. import clock
from ..errors import (
    AccountChannelLimitExceededException,
    AccountStreamLimitExceededException,
    InvalidArgumentException,
    InvalidResourceFormatException,
    NoDataRetentionException,
    ResourceInUseException,
    ResourceNotFoundException,
    StreamEdgeConfigurationNotFoundException,
)
from .channels import SignalingChannel
from .edge import EdgeConfiguration
from .identifiers import parse_arn, resource_arn
from .pagination import paginate
from .sessions import SegmentCache, SessionStore
from .streams import MAX_RETENTION_HOURS, Stream, check_retention
from .tags import tag_list_to_dict
from .usage import ChannelUsage, StreamUsage

MAX_STREAMS_PER_REGION = 10_000
DEFAULT_LIST_STREAMS = 10_000
DEFAULT_LIST_CHANNELS = 500
DEFAULT_LIST_EDGE = 5
_SNS_ARN = re.compile(r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}")
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(/.*)?")


def channel_limit(region: str) -> int:
    return 10_000 if region in ("us-east-1", "us-west-2") else 5_000


class KinesisVideoService:
    """All KVS state of one account in one region."""

    def __init__(self, region_name: str, account_id: str):
        self.region_name = region_name
        self.account_id = account_id
        self.streams: dict[str, Stream] = {}
        self.channels: dict[str, SignalingChannel] = {}
        self.lock = threading.RLock()
        #: HLS/DASH streaming sessions and the segments remuxed for them.
        self.sessions = SessionStore()
        self.segments = SegmentCache()
        #: Usage of deleted streams and channels: still billed.
        self.deleted_usage: list[Any] = []

    # ------------------------------------------------------------------ usage
    def usage_reports(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(stream reports, channel reports), deleted ones included."""
        with self.lock:
            streams = [s.usage.report(s.store.byte_seconds(), s.store.stored_bytes) for s in self.streams.values()]
            channels = [c.usage.report() for c in self.channels.values()]
            for usage in self.deleted_usage:
                if isinstance(usage, StreamUsage):
                    streams.append(usage.report())
                elif isinstance(usage, ChannelUsage):
                    channels.append(usage.report())
        for report in streams + channels:
            report["AccountId"], report["Region"] = self.account_id, self.region_name
        return streams, channels

    def retire(self) -> None:
        """This state is being thrown away (moto's reset): every stream is gone, so uploads
        in progress end with STREAM_NOT_ACTIVE and live readers end, instead of feeding
        streams nothing can reach any more."""
        with self.lock:
            streams = list(self.streams.values())
            for stream in streams:
                stream.status = "DELETING"
        for stream in streams:
            stream.store.clear()

    def expire_media(self) -> int:
        """Drop every fragment whose retention has ended (the server's sweep); returns how many."""
        with self.lock:
            streams = list(self.streams.values())
        return sum(stream.store.expire() for stream in streams)

    # ------------------------------------------------------------------ lookup
    # Every lookup holds the backend's lock: a create or delete on another thread
    # must not change the dicts while they are searched.
    def _stream_by_arn(self, arn: str) -> Stream:
        with self.lock:
            for stream in self.streams.values():
                if stream.arn == arn:
                    return stream
        raise ResourceNotFoundException("The requested stream is not found or not active.")

    def find_stream(self, params: dict[str, Any]) -> Stream:
        """The stream named by StreamName and/or StreamARN (both must agree)."""
        name, arn = params.get("StreamName"), params.get("StreamARN")
        if name is None and arn is None:
            raise InvalidArgumentException("Either StreamName or StreamARN must be specified.")
        if arn is not None:
            stream = self._stream_by_arn(arn)
            if name is not None and stream.name != name:
                raise InvalidArgumentException("StreamName and StreamARN refer to different streams.")
            return stream
        with self.lock:
            stream = self.streams.get(name)
        if stream is None:
            raise ResourceNotFoundException("The requested stream is not found or not active.")
        return stream

    def find_channel(self, params: dict[str, Any], *, name_key: str = "ChannelName", arn_key: str = "ChannelARN") -> SignalingChannel:
        name, arn = params.get(name_key), params.get(arn_key)
        if name is None and arn is None:
            raise InvalidArgumentException(f"Either {name_key} or {arn_key} must be specified.")
        with self.lock:
            if arn is not None:
                found = next((c for c in self.channels.values() if c.arn == arn), None)
                if found is not None and name is not None and found.name != name:
                    raise InvalidArgumentException(f"{name_key} and {arn_key} refer to different channels.")
            else:
                found = self.channels.get(name)
        if found is None:
            raise ResourceNotFoundException("The requested channel is not found or not active.")
        return found

    def _resource_by_arn(self, arn: str) -> Stream | SignalingChannel:
        parsed = parse_arn(arn)
        if parsed.resource_type == "stream":
            return self._stream_by_arn(arn)
        if parsed.resource_type == "channel":
            return self.find_channel({"ChannelARN": arn})
        raise InvalidArgumentException(f"{arn} is not a stream or signaling channel ARN.")

    def default_kms_key(self) -> str:
        partition = parse_arn(resource_arn(self.region_name, self.account_id, "x", "x", 0)).partition
        return f"arn:{partition}:kms:{self.region_name}:{self.account_id}:alias/aws/kinesisvideo"

    # ----------------------------------------------------------------- streams
    def create_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name = p["StreamName"]
            if name in self.streams:
                raise ResourceInUseException(f"The stream {name} already exists.")
            if len(self.streams) >= MAX_STREAMS_PER_REGION:
                raise AccountStreamLimitExceededException(
                    f"The account already has the maximum of {MAX_STREAMS_PER_REGION} streams in {self.region_name}."
                )
            retention = p.get("DataRetentionInHours", 0)
            check_retention(retention)
            tags = p.get("Tags") or {}
            now = clock.now()
            created_ms = int(now * 1000)
            stream = Stream(
                name=name,
                arn=resource_arn(self.region_name, self.account_id, "stream", name, created_ms),
                region=self.region_name,
                account_id=self.account_id,
                creation_time=created_ms / 1000,
                kms_key_id=p.get("KmsKeyId") or self.default_kms_key(),
                data_retention_hours=retention,
                device_name=p.get("DeviceName"),
                media_type=p.get("MediaType"),
                storage_tier=(p.get("StreamStorageConfiguration") or {}).get("DefaultStorageTier", "HOT"),
            )
            stream.tags.add(tags)
            self.streams[name] = stream
            return {"StreamARN": stream.arn}

    def describe_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"StreamInfo": self.find_stream(p).info()}

    def list_streams(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            streams = list(self.streams.values())
        condition = p.get("StreamNameCondition")
        if condition:
            prefix = _begins_with(condition)
            streams = [s for s in streams if s.name.startswith(prefix)]
        page, token = paginate(
            streams, lambda s: s.name, p.get("MaxResults", DEFAULT_LIST_STREAMS), p.get("NextToken"), "streams"
        )
        out: dict[str, Any] = {"StreamInfoList": [s.info() for s in page]}
        if token:
            out["NextToken"] = token
        return out

    def delete_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self._stream_by_arn(p["StreamARN"])
            stream.check_version(p.get("CurrentVersion"))
            if stream.mapped_channel_arn:
                for channel in self.channels.values():
                    if channel.arn == stream.mapped_channel_arn:
                        channel.storage_stream_arn = None
                        channel.storage_status = "DISABLED"
            stream.status = "DELETING"
            del self.streams[stream.name]
            stream.usage.close(stream.store.byte_seconds())
            self.deleted_usage.append(stream.usage)
            stream.store.clear()  # frees its media; live readers notice the stream is gone
            return {}

    def update_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            stream.check_version(p["CurrentVersion"])
            if "DeviceName" in p:
                stream.device_name = p["DeviceName"]
            if "MediaType" in p:
                stream.media_type = p["MediaType"]
            stream.bump_version()
            return {}

    def update_data_retention(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            stream.check_version(p["CurrentVersion"])
            change = p["DataRetentionChangeInHours"]
            if p["Operation"] == "INCREASE_DATA_RETENTION":
                new = stream.data_retention_hours + change
            else:
                new = stream.data_retention_hours - change
            if new < 0:
                raise InvalidArgumentException(
                    f"Decreasing the retention of {stream.data_retention_hours} hours by {change} hours "
                    "would make it negative."
                )
            if new > MAX_RETENTION_HOURS:
                raise InvalidArgumentException(
                    f"Increasing the retention of {stream.data_retention_hours} hours by {change} hours "
                    f"would exceed the maximum of {MAX_RETENTION_HOURS} hours."
                )
            stream.data_retention_hours = new
            stream.bump_version()
            stream.store.retention_changed()  # a decrease drops older data at once
            return {}

    def get_data_endpoint(self, p: dict[str, Any]) -> Stream:
        """The stream whose data endpoint is asked for (the api layer shapes the URL)."""
        stream = self.find_stream(p)
        return stream

    # -------------------------------------------------------------- stream tags
    def _tag_target_stream(self, p: dict[str, Any]) -> Stream:
        arn = p.get("StreamARN")
        if arn is not None and parse_arn(arn).resource_type != "stream":
            raise InvalidResourceFormatException(f"{arn} is not a stream ARN.")
        return self.find_stream(p)

    def tag_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._tag_target_stream(p).tags.add(p["Tags"])
            return {}

    def untag_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._tag_target_stream(p).tags.remove(p["TagKeyList"])
            return {}

    def list_tags_for_stream(self, p: dict[str, Any]) -> dict[str, Any]:
        return _tag_page(self._tag_target_stream(p).tags.as_dict(), p.get("NextToken"))

    # ------------------------------------------------------- resource tags
    def tag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._resource_by_arn(p["ResourceARN"]).tags.add(tag_list_to_dict(p["Tags"]))
            return {}

    def untag_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._resource_by_arn(p["ResourceARN"]).tags.remove(p["TagKeyList"])
            return {}

    def list_tags_for_resource(self, p: dict[str, Any]) -> dict[str, Any]:
        return _tag_page(self._resource_by_arn(p["ResourceARN"]).tags.as_dict(), p.get("NextToken"))

    # -------------------------------------------------------- signaling channels
    def create_signaling_channel(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            name = p["ChannelName"]
            channel_type = p.get("ChannelType", "SINGLE_MASTER")
            if channel_type != "SINGLE_MASTER":
                raise InvalidArgumentException("SINGLE_MASTER is the only supported ChannelType.")
            if name in self.channels:
                raise ResourceInUseException(f"The signaling channel {name} already exists.")
            limit = channel_limit(self.region_name)
            if len(self.channels) >= limit:
                raise AccountChannelLimitExceededException(
                    f"The account already has the maximum of {limit} signaling channels in {self.region_name}."
                )
            tags = tag_list_to_dict(p.get("Tags"))
            created_ms = clock.now_ms()
            channel = SignalingChannel(
                name=name,
                arn=resource_arn(self.region_name, self.account_id, "channel", name, created_ms),
                region=self.region_name,
                account_id=self.account_id,
                creation_time=created_ms / 1000,
                channel_type=channel_type,
            )
            ttl = (p.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds")
            if ttl is not None:
                channel.message_ttl_seconds = ttl
            channel.tags.add(tags)
            self.channels[name] = channel
            return {"ChannelARN": channel.arn}

    def describe_signaling_channel(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"ChannelInfo": self.find_channel(p).info()}

    def list_signaling_channels(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            channels = list(self.channels.values())
        condition = p.get("ChannelNameCondition")
        if condition:
            prefix = _begins_with(condition)
            channels = [c for c in channels if c.name.startswith(prefix)]
        page, token = paginate(
            channels, lambda c: c.name, p.get("MaxResults", DEFAULT_LIST_CHANNELS), p.get("NextToken"), "channels"
        )
        out: dict[str, Any] = {"ChannelInfoList": [c.info() for c in page]}
        if token:
            out["NextToken"] = token
        return out

    def update_signaling_channel(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            channel = self.find_channel({"ChannelARN": p["ChannelARN"]})
            channel.require_active()
            channel.check_version(p["CurrentVersion"])
            ttl = (p.get("SingleMasterConfiguration") or {}).get("MessageTtlSeconds")
            if ttl is not None:
                channel.message_ttl_seconds = ttl
            channel.bump_version()
            return {}

    def delete_signaling_channel(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            channel = self.find_channel({"ChannelARN": p["ChannelARN"]})
            channel.check_version(p.get("CurrentVersion"))
            if channel.storage_stream_arn:
                for stream in self.streams.values():
                    if stream.arn == channel.storage_stream_arn and stream.mapped_channel_arn == channel.arn:
                        stream.mapped_channel_arn = None
            channel.status = "DELETING"
            del self.channels[channel.name]
            channel.usage.deleted = True
            self.deleted_usage.append(channel.usage)
            return {}

    def get_signaling_channel_endpoint(self, p: dict[str, Any]) -> tuple[SignalingChannel, list[str], str]:
        """The channel, the protocols asked for and the role (the api layer shapes URLs)."""
        channel = self.find_channel({"ChannelARN": p["ChannelARN"]})
        channel.require_active()
        config = p.get("SingleMasterChannelEndpointConfiguration") or {}
        protocols = config.get("Protocols") or ["WSS", "HTTPS"]
        role = config.get("Role", "MASTER")
        if len(set(protocols)) != len(protocols):
            raise InvalidArgumentException("Each protocol may be listed only once.")
        if "WEBRTC" in protocols and channel.storage_status != "ENABLED":
            raise InvalidArgumentException(
                "The WEBRTC protocol is only available for channels whose media storage configuration is ENABLED."
            )
        return channel, protocols, role

    # ------------------------------------------------ image generation config
    def update_image_generation_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            config = p.get("ImageGenerationConfiguration")
            if config is None:
                stream.image_generation = None
                return {}
            if stream.data_retention_hours == 0:
                raise NoDataRetentionException(
                    "Image generation needs a stream that retains data (DataRetentionInHours > 0)."
                )
            if config["SamplingInterval"] < 200:
                raise InvalidArgumentException("SamplingInterval must be at least 200 milliseconds.")
            destination = config["DestinationConfig"]
            if destination["DestinationRegion"] != self.region_name:
                raise InvalidArgumentException(
                    f"DestinationRegion {destination['DestinationRegion']} must be the stream's region {self.region_name}."
                )
            if not _S3_URI.fullmatch(destination["Uri"]):
                raise InvalidArgumentException(f"DestinationConfig Uri {destination['Uri']} is not an s3://bucket/prefix URI.")
            fmt_config = config.get("FormatConfig")
            if fmt_config:
                if config["Format"] != "JPEG":
                    raise InvalidArgumentException("FormatConfig JPEGQuality applies only to the JPEG format.")
                quality = fmt_config.get("JPEGQuality", "")
                if not quality.isdigit() or not 1 <= int(quality) <= 100:
                    raise InvalidArgumentException(f"JPEGQuality must be an integer from 1 to 100; got '{quality}'.")
            stream.image_generation = dict(config)
            return {}

    def describe_image_generation_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        stream = self.find_stream(p)
        return {"ImageGenerationConfiguration": stream.image_generation} if stream.image_generation else {}

    # ---------------------------------------------------- notification config
    def update_notification_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            config = p.get("NotificationConfiguration")
            if config is None:
                stream.notification = None
                return {}
            if stream.data_retention_hours == 0:
                raise NoDataRetentionException(
                    "Notifications need a stream that retains data (DataRetentionInHours > 0)."
                )
            uri = config["DestinationConfig"]["Uri"]
            if not _SNS_ARN.fullmatch(uri):
                raise InvalidArgumentException(f"DestinationConfig Uri {uri} is not an SNS topic ARN.")
            stream.notification = dict(config)
            return {}

    def describe_notification_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        stream = self.find_stream(p)
        return {"NotificationConfiguration": stream.notification} if stream.notification else {}

    # --------------------------------------------------- media storage config
    def update_media_storage_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            channel = self.find_channel({"ChannelARN": p["ChannelARN"]})
            channel.require_active()
            config = p["MediaStorageConfiguration"]
            if config["Status"] == "DISABLED":
                self._unmap(channel)
                if config.get("StreamARN"):
                    channel.storage_stream_arn = config["StreamARN"]
                return {}
            arn = config.get("StreamARN")
            if not arn:
                raise InvalidArgumentException("StreamARN is required when the media storage Status is ENABLED.")
            stream = self._stream_by_arn(arn)
            stream.require_active()
            if stream.data_retention_hours == 0:
                raise NoDataRetentionException(
                    "Media storage needs a stream that retains data (DataRetentionInHours > 0)."
                )
            if stream.mapped_channel_arn and stream.mapped_channel_arn != channel.arn:
                raise ResourceInUseException(f"The stream {stream.name} is already mapped to another signaling channel.")
            if channel.storage_status == "ENABLED" and channel.storage_stream_arn != stream.arn:
                raise ResourceInUseException(f"The channel {channel.name} is already mapped to another stream.")
            channel.storage_stream_arn = stream.arn
            channel.storage_status = "ENABLED"
            stream.mapped_channel_arn = channel.arn
            return {}

    def _unmap(self, channel: SignalingChannel) -> None:
        if channel.storage_stream_arn:
            for stream in list(self.streams.values()):
                if stream.arn == channel.storage_stream_arn and stream.mapped_channel_arn == channel.arn:
                    stream.mapped_channel_arn = None
        channel.storage_stream_arn = None
        channel.storage_status = "DISABLED"

    def describe_media_storage_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"MediaStorageConfiguration": self.find_channel(p).media_storage()}

    def describe_mapped_resource_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        stream = self.find_stream(p)
        items = []
        if stream.mapped_channel_arn:
            items.append({"Type": "SIGNALING_CHANNEL", "ARN": stream.mapped_channel_arn})
        page, token = paginate(items, lambda i: i["ARN"], p.get("MaxResults", 1), p.get("NextToken"), "mapped")
        out: dict[str, Any] = {"MappedResourceConfigurationList": page}
        if token:
            out["NextToken"] = token
        return out

    # ---------------------------------------------------- stream storage tier
    def describe_stream_storage_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        stream = self.find_stream(p)
        return {
            "StreamName": stream.name,
            "StreamARN": stream.arn,
            "StreamStorageConfiguration": {"DefaultStorageTier": stream.storage_tier},
        }

    def update_stream_storage_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            stream.check_version(p["CurrentVersion"])
            stream.storage_tier = p["StreamStorageConfiguration"]["DefaultStorageTier"]
            stream.bump_version()
            return {}

    # ------------------------------------------------------- edge configuration
    def start_edge_configuration_update(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stream = self.find_stream(p)
            stream.require_active()
            if stream.data_retention_hours == 0:
                raise NoDataRetentionException(
                    "An edge configuration needs a stream that retains data (DataRetentionInHours > 0)."
                )
            edge: EdgeConfiguration | None = stream.edge
            if edge is not None and edge.busy:
                raise ResourceInUseException(
                    f"The edge configuration of {stream.name} is {edge.sync_status}; wait for IN_SYNC or SYNC_FAILED."
                )
            if edge is None:
                now = clock.now()
                edge = EdgeConfiguration(stream.name, stream.arn, p["EdgeConfig"], now, now)
                stream.edge = edge
            else:
                edge.update(p["EdgeConfig"])
            return edge.describe()

    def _edge(self, p: dict[str, Any]) -> tuple[Stream, EdgeConfiguration]:
        stream = self.find_stream(p)
        if stream.edge is None:
            raise StreamEdgeConfigurationNotFoundException(
                f"The stream {stream.name} has no edge configuration."
            )
        return stream, stream.edge

    def describe_edge_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._edge(p)[1].describe()

    def delete_edge_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            _, edge = self._edge(p)
            edge.refresh()
            if edge.sync_status in ("DELETING", "DELETING_ACKNOWLEDGED"):
                return {}
            edge.start_delete()
            return {}

    def list_edge_agent_configurations(self, p: dict[str, Any]) -> dict[str, Any]:
        hub = p["HubDeviceArn"]
        with self.lock:
            configs = [s.edge for s in self.streams.values() if s.edge and s.edge.config["HubDeviceArn"] == hub]
        page, token = paginate(
            configs, lambda e: e.stream_name, p.get("MaxResults", DEFAULT_LIST_EDGE), p.get("NextToken"), "edge"
        )
        out: dict[str, Any] = {"EdgeConfigs": [e.describe() for e in page]}
        if token:
            out["NextToken"] = token
        return out


def _begins_with(condition: dict[str, Any]) -> str:
    if condition.get("ComparisonOperator", "BEGINS_WITH") != "BEGINS_WITH":
        raise InvalidArgumentException("BEGINS_WITH is the only supported ComparisonOperator.")
    value = condition.get("ComparisonValue")
    if not value:
        raise InvalidArgumentException("ComparisonValue is required with a name condition.")
    return value


def _tag_page(tags: dict[str, str], next_token: str | None) -> dict[str, Any]:
    # At most 50 tags exist, so one page always holds them all; a token is still checked.
    keys = sorted(tags)
    page, token = paginate(keys, lambda k: k, 50, next_token, "tags")
    out: dict[str, Any] = {"Tags": {k: tags[k] for k in page}}
    if token:
        out["NextToken"] = token
    return out
