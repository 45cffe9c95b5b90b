"""A Kinesis video stream's control-plane state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import InvalidArgumentException, NoDataRetentionException
from .encryption import StreamKeys
from .edge import EdgeConfiguration
from .fragments import FragmentStore
from .identifiers import new_version, short_id
from .lifecycle import Resource
from .tags import TagSet
from .usage import StreamUsage

MAX_RETENTION_HOURS = 87_600  # ten years


def check_retention(hours: int) -> None:
    """DataRetentionInHours must lie in 0..ten years."""
    if hours < 0 or hours > MAX_RETENTION_HOURS:
        raise InvalidArgumentException(
            f"DataRetentionInHours must be between 0 and {MAX_RETENTION_HOURS} hours; got {hours}."
        )


@dataclass
class Stream(Resource):
    """One stream: its identity, settings, tags and per-stream configurations."""

    kind: ClassVar[str] = "stream"
    version_of: ClassVar[str] = "stream"

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
    edge: EdgeConfiguration | None = None
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
        self.store = FragmentStore(
            seed=int(short_id(self.arn), 16), retention_hours=lambda: self.data_retention_hours, owner=self.arn
        )
        self.keys = StreamKeys(self.account_id, self.region, self.kms_key_id)
        self.usage = StreamUsage(self.name, self.arn)

    def require_retention(self, purpose: str) -> None:
        """Refuse what needs stored media (``purpose``: "Media storage needs") on a stream that keeps none."""
        if self.data_retention_hours == 0:
            raise NoDataRetentionException(f"{purpose} a stream that retains data (DataRetentionInHours > 0).")
