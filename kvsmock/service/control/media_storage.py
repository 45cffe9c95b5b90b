"""A signaling channel's media storage (UpdateMediaStorageConfiguration) and a stream's mapped resources."""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import InvalidArgumentException, ResourceInUseException
from ..pagination import Page, paginate
from .mapping import StorageMapping


@dataclass(frozen=True)
class MappedResource:
    """A resource mapped to a stream (DescribeMappedResourceConfiguration)."""

    type: str
    arn: str


class MediaStorageOperations(StorageMapping):
    """Mapping channels to the streams their media is stored in."""

    def update_media_storage_configuration(self, channel_arn: str, status: str, stream_arn: str | None = None) -> None:
        with self.lock:
            channel = self.channel(arn=channel_arn)
            channel.require_active()
            if status == "DISABLED":
                self._release_stream(channel)
                channel.storage_stream_arn = stream_arn or None
                channel.storage_status = "DISABLED"
                self.changed(channel)
                return
            if not stream_arn:
                raise InvalidArgumentException("StreamARN is required when the media storage Status is ENABLED.")
            stream = self.stream(arn=stream_arn)
            stream.require_active()
            stream.require_retention("Media storage needs")
            if stream.mapped_channel_arn and stream.mapped_channel_arn != channel.arn:
                raise ResourceInUseException(f"The stream {stream.name} is already mapped to another signaling channel.")
            if channel.storage_status == "ENABLED" and channel.storage_stream_arn != stream.arn:
                raise ResourceInUseException(f"The channel {channel.name} is already mapped to another stream.")
            channel.storage_stream_arn = stream.arn
            channel.storage_status = "ENABLED"
            stream.mapped_channel_arn = channel.arn
            self.changed(channel, stream)

    #: DescribeMediaStorageConfiguration only finds the channel (the api layer shapes its storage members).
    describe_media_storage_configuration = StorageMapping.channel

    def describe_mapped_resource_configuration(
        self, name: str | None = None, arn: str | None = None, max_results: int | None = None, next_token: str | None = None
    ) -> Page[MappedResource]:
        stream = self.stream(name, arn)
        items = [MappedResource("SIGNALING_CHANNEL", stream.mapped_channel_arn)] if stream.mapped_channel_arn else []
        return paginate(items, lambda i: i.arn, max_results or 1, next_token, "mapped")
