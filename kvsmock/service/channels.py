"""A WebRTC signaling channel's control-plane state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import ResourceInUseException, VersionMismatchException
from .identifiers import new_version, short_id
from .tags import TagSet
from .usage import ChannelUsage

DEFAULT_MESSAGE_TTL_SECONDS = 60


@dataclass
class SignalingChannel:
    """One SINGLE_MASTER signaling channel."""

    name: str
    arn: str
    region: str
    account_id: str
    creation_time: float
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

    @property
    def endpoint_id(self) -> str:
        return short_id(self.arn)

    def info(self) -> dict[str, Any]:
        """The ChannelInfo shape."""
        return {
            "ChannelName": self.name,
            "ChannelARN": self.arn,
            "ChannelType": self.channel_type,
            "ChannelStatus": self.status,
            "CreationTime": self.creation_time,
            "SingleMasterConfiguration": {"MessageTtlSeconds": self.message_ttl_seconds},
            "Version": self.version,
        }

    def media_storage(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Status": self.storage_status}
        if self.storage_stream_arn:
            out["StreamARN"] = self.storage_stream_arn
        return out

    def require_active(self) -> None:
        if self.status != "ACTIVE":
            raise ResourceInUseException(f"The signaling channel {self.name} is {self.status}, not ACTIVE.")

    def check_version(self, current_version: str | None) -> None:
        if current_version is not None and current_version != self.version:
            raise VersionMismatchException(
                f"The CurrentVersion {current_version} does not match the channel's latest version."
            )

    def bump_version(self) -> None:
        self.version = new_version()
