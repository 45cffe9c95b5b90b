"""Finding a backend's streams and signaling channels by name or ARN, as every operation needs."""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from .. import clock
from ..errors import InvalidArgumentException, ResourceNotFoundException
from .channels import SignalingChannel
from .identifiers import parse_arn, resource_arn
from .named_table import NamedTable
from .pagination import Page, page_of
from .persistence import persistence
from .streams import Stream
from .usage import ChannelUsage, StreamUsage

R = TypeVar("R", Stream, SignalingChannel)


class ResourceLookup:
    """The resources of one account and region, and their lookups.

    Every lookup holds the lock: a create or delete on another thread must
    not change the dicts while they are searched.
    """

    def __init__(self, region_name: str, account_id: str):
        self.region_name = region_name
        self.account_id = account_id
        self.streams: NamedTable[Stream] = NamedTable()
        self.channels: NamedTable[SignalingChannel] = NamedTable()
        self.lock = threading.RLock()
        #: Usage of deleted streams and channels: still billed.
        self.deleted_usage: list[StreamUsage | ChannelUsage] = []

    def _find(self, table: dict[str, R], name: str | None, arn: str | None, member: str, kind: str) -> R:
        """The resource of ``table`` named by ``name`` and/or ``arn`` (both must agree).

        ``member`` is the request members' stem ("Stream": StreamName,
        StreamARN), ``kind`` what errors call it ("stream").
        """
        if name is None and arn is None:
            raise InvalidArgumentException(f"Either {member}Name or {member}ARN must be specified.")
        with self.lock:
            if arn is not None:
                found = next((r for r in table.values() if r.arn == arn), None)
            else:
                found = table.get(name or "")
        if found is None:
            raise ResourceNotFoundException(f"The requested {kind} is not found or not active.")
        if arn is not None and name is not None and found.name != name:
            raise InvalidArgumentException(f"{member}Name and {member}ARN refer to different {kind}s.")
        return found

    def stream(self, name: str | None = None, arn: str | None = None) -> Stream:
        """The stream named by ``name`` and/or ``arn`` (both must agree)."""
        return self._find(self.streams, name, arn, "Stream", "stream")

    def channel(self, name: str | None = None, arn: str | None = None) -> SignalingChannel:
        """The signaling channel named by ``name`` and/or ``arn`` (both must agree)."""
        return self._find(self.channels, name, arn, "Channel", "channel")

    def find_stream(self, params: dict[str, Any]) -> Stream:
        """The stream a request's StreamName and/or StreamARN members name (for the data-plane APIs)."""
        return self.stream(params.get("StreamName"), params.get("StreamARN"))

    def find_channel(self, params: dict[str, Any]) -> SignalingChannel:
        """The channel a request's ChannelName and/or ChannelARN members name."""
        return self.channel(params.get("ChannelName"), params.get("ChannelARN"))

    def resource_by_arn(self, arn: str) -> Stream | SignalingChannel:
        """The stream or channel of a ResourceARN."""
        parsed = parse_arn(arn)
        if parsed.resource_type == "stream":
            return self.stream(arn=arn)
        if parsed.resource_type == "channel":
            return self.channel(arn=arn)
        raise InvalidArgumentException(f"{arn} is not a stream or signaling channel ARN.")

    def default_kms_key(self) -> str:
        """The account's AWS-managed key for KVS, used when a stream names none."""
        partition = parse_arn(resource_arn(self.region_name, self.account_id, "x", "x", 0)).partition
        return f"arn:{partition}:kms:{self.region_name}:{self.account_id}:alias/aws/kinesisvideo"

    def _identity(self, kind: str, name: str) -> dict[str, Any]:
        """The identity of a resource (``kind`` "stream" or "channel") created now, as constructor arguments."""
        created_ms = clock.now_ms()
        return {
            "name": name,
            "arn": resource_arn(self.region_name, self.account_id, kind, name, created_ms),
            "region": self.region_name,
            "account_id": self.account_id,
            "creation_time": created_ms / 1000,
        }

    def changed(self, *resources: Stream | SignalingChannel) -> None:
        """Resources were created or changed (the lock is held): the durable store writes them."""
        for resource in resources:
            persistence().save_resource(resource)

    def _take_out(self, table: dict[str, R], resource: R) -> None:
        """A deleted resource leaves (the lock is held): DELETING, gone from its table, its usage still billed."""
        resource.status = "DELETING"
        del table[resource.name]
        self.deleted_usage.append(resource.usage)
        persistence().delete_resource(resource)

    def list_named(self, table: NamedTable[R], name_prefix: str | None, max_results: int, next_token: str | None,
                   kind: str) -> Page[R]:
        """One page of ``table``'s resources whose names start with ``name_prefix``, by name."""

        def fetch(after: str, count: int) -> list[R]:
            with self.lock:
                return table.after(after, name_prefix or "", count)

        return page_of(fetch, lambda r: r.name, max_results, next_token, kind)
