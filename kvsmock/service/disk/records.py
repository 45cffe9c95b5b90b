"""Streams, channels, usage and MKV headers as JSON records, and back."""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from ...media.matroska import TrackInfo
from ..channels import SignalingChannel
from ..edge import EdgeConfiguration
from ..fragments import MediaHeader
from ..streams import Stream
from ..usage import ChannelUsage, StreamUsage

__all__ = [
    "channel_from_record",
    "channel_record",
    "stream_from_record",
    "stream_record",
    "tracks_from_record",
    "tracks_record",
    "usage_from_record",
    "usage_record",
]

_IDENTITY = ("name", "arn", "region", "account_id", "creation_time")
_STREAM = _IDENTITY + (
    "kms_key_id", "data_retention_hours", "device_name", "media_type", "storage_tier", "status", "version",
    "image_generation", "notification", "mapped_channel_arn",
)
_CHANNEL = _IDENTITY + (
    "channel_type", "message_ttl_seconds", "status", "version", "storage_stream_arn", "storage_status",
)


def stream_record(stream: Stream) -> dict[str, Any]:
    record = {name: getattr(stream, name) for name in _STREAM}
    record["tags"] = stream.tags.as_dict()
    record["edge"] = dataclasses.asdict(stream.edge) if stream.edge is not None else None
    return record


def stream_from_record(record: dict[str, Any]) -> Stream:
    stream = Stream(**{name: record[name] for name in _STREAM})
    stream.tags.add(record["tags"])
    if record["edge"] is not None:
        stream.edge = EdgeConfiguration(**record["edge"])
    return stream


def channel_record(channel: SignalingChannel) -> dict[str, Any]:
    record = {name: getattr(channel, name) for name in _CHANNEL}
    record["tags"] = channel.tags.as_dict()
    return record


def channel_from_record(record: dict[str, Any]) -> SignalingChannel:
    channel = SignalingChannel(**{name: record[name] for name in _CHANNEL})
    channel.tags.add(record["tags"])
    return channel


def usage_record(usage: StreamUsage | ChannelUsage) -> dict[str, Any]:
    record = {f.name: getattr(usage, f.name) for f in dataclasses.fields(usage) if not f.name.startswith("_")}
    if isinstance(usage, StreamUsage):
        record["final_byte_seconds"] = usage.final_byte_seconds
    return record


def usage_from_record(kind: str, record: dict[str, Any]) -> StreamUsage | ChannelUsage:
    fields = {k: v for k, v in record.items() if k != "final_byte_seconds"}
    if kind == "channel":
        return ChannelUsage(**fields)
    return StreamUsage(**fields, _final_byte_seconds=record.get("final_byte_seconds"))


def tracks_record(header: MediaHeader) -> list[dict[str, Any]]:
    out = []
    for track in header.tracks:
        fields = dataclasses.asdict(track)
        if fields["codec_private"] is not None:
            fields["codec_private"] = base64.b64encode(fields["codec_private"]).decode()
        out.append(fields)
    return out


def tracks_from_record(records: list[dict[str, Any]]) -> tuple[TrackInfo, ...]:
    tracks = []
    for fields in records:
        if fields["codec_private"] is not None:
            fields = {**fields, "codec_private": base64.b64decode(fields["codec_private"])}
        tracks.append(TrackInfo(**fields))
    return tuple(tracks)
