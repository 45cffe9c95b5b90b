"""A WebRTC signaling channel's control-plane state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from .identifiers import new_version
from .lifecycle import Resource
from .tags import TagSet
from .usage import ChannelUsage

DEFAULT_MESSAGE_TTL_SECONDS = 60


@dataclass
class SignalingChannel(Resource):
    """One SINGLE_MASTER signaling channel."""

    kind: ClassVar[str] = "signaling channel"
    version_of: ClassVar[str] = "channel"

    channel_type: str = "SINGLE_MASTER"
    message_ttl_seconds: int = DEFAULT_MESSAGE_TTL_SECONDS
    status: str = "ACTIVE"
    version: str = field(default_factory=new_version)
    tags: TagSet = field(default_factory=TagSet)
    #: Signaling messages counted for billing.
    usage: ChannelUsage = field(init=False)
    #: MediaStorageConfiguration: ARN of the mapped stream and its status.
    storage_stream_arn: str | None = None
    storage_status: str = "DISABLED"

    def __post_init__(self) -> None:
        self.usage = ChannelUsage(self.name, self.arn)


@dataclass(frozen=True)
class SignalingEndpoints:
    """What GetSignalingChannelEndpoint resolved: the channel, the protocols asked for and the role."""

    channel: SignalingChannel
    protocols: list[str]
    role: str
