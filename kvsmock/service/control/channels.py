"""Signaling channel operations: create, describe, list, update, delete, and their endpoints."""

from __future__ import annotations

from ...errors import AccountChannelLimitExceededException, InvalidArgumentException, ResourceInUseException
from ..channels import SignalingChannel, SignalingEndpoints
from ..pagination import Page
from .mapping import StorageMapping

DEFAULT_LIST_CHANNELS = 500


def channel_limit(region: str) -> int:
    """Signaling channels an account may have in ``region``."""
    return 10_000 if region in ("us-east-1", "us-west-2") else 5_000


class ChannelOperations(StorageMapping):
    """The signaling channel operations of the control plane."""

    def create_signaling_channel(
        self,
        name: str,
        *,
        channel_type: str = "SINGLE_MASTER",
        message_ttl_seconds: int | None = None,
        tags: dict[str, str] | None = None,
    ) -> SignalingChannel:
        with self.lock:
            if channel_type != "SINGLE_MASTER":
                raise InvalidArgumentException("SINGLE_MASTER is the only supported ChannelType.")
            if name in self.channels:
                raise ResourceInUseException(f"The signaling channel {name} already exists.")
            limit = channel_limit(self.region_name)
            if len(self.channels) >= limit:
                raise AccountChannelLimitExceededException(
                    f"The account already has the maximum of {limit} signaling channels in {self.region_name}."
                )
            channel = SignalingChannel(**self._identity("channel", name), channel_type=channel_type)
            if message_ttl_seconds is not None:
                channel.message_ttl_seconds = message_ttl_seconds
            channel.tags.add(tags or {})
            self.channels[name] = channel
            self.changed(channel)
            return channel

    #: DescribeSignalingChannel only finds the channel.
    describe_signaling_channel = StorageMapping.channel

    def list_signaling_channels(
        self, name_prefix: str | None = None, max_results: int | None = None, next_token: str | None = None
    ) -> Page[SignalingChannel]:
        return self.list_named(self.channels, name_prefix, max_results or DEFAULT_LIST_CHANNELS, next_token, "channels")

    def update_signaling_channel(self, arn: str, current_version: str, message_ttl_seconds: int | None = None) -> None:
        with self.lock:
            channel = self.channel(arn=arn)
            channel.check_update(current_version)
            if message_ttl_seconds is not None:
                channel.message_ttl_seconds = message_ttl_seconds
            channel.bump_version()
            self.changed(channel)

    def delete_signaling_channel(self, arn: str, current_version: str | None = None) -> None:
        with self.lock:
            channel = self.channel(arn=arn)
            channel.check_version(current_version)
            self._release_stream(channel)
            channel.usage.deleted = True
            self._take_out(self.channels, channel)

    def get_signaling_channel_endpoint(
        self, arn: str, protocols: list[str] | None = None, role: str = "MASTER"
    ) -> SignalingEndpoints:
        """The channel and the endpoints asked for (the api layer shapes URLs)."""
        channel = self.channel(arn=arn)
        channel.require_active()
        protocols = protocols or ["WSS", "HTTPS"]
        if len(set(protocols)) != len(protocols):
            raise InvalidArgumentException("Each protocol may be listed only once.")
        if "WEBRTC" in protocols and channel.storage_status != "ENABLED":
            raise InvalidArgumentException(
                "The WEBRTC protocol is only available for channels whose media storage configuration is ENABLED."
            )
        return SignalingEndpoints(channel, protocols, role)
