"""The link between a signaling channel's media storage and the stream it stores into."""

from __future__ import annotations

from ..channels import SignalingChannel
from ..lookup import ResourceLookup
from ..streams import Stream


class StorageMapping(ResourceLookup):
    """Undoing a channel-stream mapping from either side (the backend's lock is held)."""

    def _release_stream(self, channel: SignalingChannel) -> None:
        """The stream the channel stores into is no longer mapped to it."""
        if channel.storage_stream_arn:
            for stream in list(self.streams.values()):
                if stream.arn == channel.storage_stream_arn and stream.mapped_channel_arn == channel.arn:
                    stream.mapped_channel_arn = None
                    self.changed(stream)

    def _release_channel(self, stream: Stream) -> None:
        """The channel that stores into the stream now has media storage DISABLED."""
        if stream.mapped_channel_arn:
            for channel in self.channels.values():
                if channel.arn == stream.mapped_channel_arn:
                    channel.storage_stream_arn = None
                    channel.storage_status = "DISABLED"
                    self.changed(channel)
