"""A Kinesis video stream's control-plane state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgumentException, ResourceInUseException, VersionMismatchException
from .encryption import StreamKeys
from .fragments import FragmentStore
from .identifiers import new_version, short_id
from .tags import TagSet
from .usage import StreamUsage

MAX_RETENTION_HOURS = 87_600  # ten years


def check_retention(hours: int) -> None:
    if hours < 0 or hours > MAX_RETENTION_HOURS:
        raise InvalidArgumentException(
            f"DataRetentionInHours must be between 0 and {MAX_RETENTION_HOURS} hours; got {hours}."
        )


@dataclass
class Stream:
    """One stream: its identity, settings, tags and per-stream configurations."""

    name: str
    arn: str
    region: str
    account_id: str
    creation_time: float
    kms_key_id: str
    data_retention_hours: int = 0
    device_name: str | None = None
    media_type: str | None = None
    storage_tier: str = "HOT"
    status: str = "ACTIVE"
    version: str = field(default_factory=new_version)
    tags: TagSet = field(default_factory=TagSet)
    image_generation: dict[str, Any] | None = None
    notification: dict[str, Any] | None = None
    #: ARN of the signaling channel whose media storage maps to this stream.
    mapped_channel_arn: str | None = None
    edge: Any = None
    store: FragmentStore = field(init=False)
    #: The data keys its fragments are sealed with (KMS is first asked when media flows).
    keys: StreamKeys = field(init=False)
    #: What the service would bill for it.
    usage: StreamUsage = field(init=False)
    #: Open PutMedia connections (the service allows one per stream).
    put_media_connections: int = 0
    #: Open GetMedia connections (the service allows three per stream).
    get_media_connections: int = 0

    def __post_init__(self) -> None:
        self.store = FragmentStore(seed=int(short_id(self.arn), 16), retention_hours=lambda: self.data_retention_hours)
        self.keys = StreamKeys(self.account_id, self.region, self.kms_key_id)
        self.usage = StreamUsage(self.name, self.arn)

    @property
    def endpoint_id(self) -> str:
        """Stable 8-hex id used in this stream's data endpoint host names."""
        return short_id(self.arn)

    def info(self) -> dict[str, Any]:
        """The StreamInfo shape of DescribeStream / ListStreams."""
        out: dict[str, Any] = {}
        if self.device_name is not None:
            out["DeviceName"] = self.device_name
        out["StreamName"] = self.name
        out["StreamARN"] = self.arn
        if self.media_type is not None:
            out["MediaType"] = self.media_type
        out["KmsKeyId"] = self.kms_key_id
        out["Version"] = self.version
        out["Status"] = self.status
        out["CreationTime"] = self.creation_time
        out["DataRetentionInHours"] = self.data_retention_hours
        return out

    def require_active(self) -> None:
        if self.status != "ACTIVE":
            raise ResourceInUseException(f"The stream {self.name} is {self.status}, not ACTIVE.")

    def check_version(self, current_version: str | None) -> None:
        if current_version is not None and current_version != self.version:
            raise VersionMismatchException(
                f"The CurrentVersion {current_version} does not match the stream's latest version."
            )

    def bump_version(self) -> None:
        self.version = new_version()
