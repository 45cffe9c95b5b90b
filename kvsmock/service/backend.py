"""The KVS service for one account and region.

One instance holds every stream, signaling channel and configuration of an
account in a region; all five KVS endpoints share it. Its control-plane
operations come from the mixins of :mod:`kvsmock.service.control` (methods
named after the operations, typed arguments, model objects returned); the
api layer reads requests and shapes responses.
"""

from __future__ import annotations

from typing import Any

from .control.channels import ChannelOperations
from .control.edge_configs import EdgeOperations
from .control.media_storage import MediaStorageOperations
from .control.stream_configs import StreamConfigOperations
from .control.streams import StreamOperations
from .control.tagging import TagOperations
from .lookup import ResourceLookup
from .playback.segment_cache import SegmentCache
from .playback.store import SessionStore
from .quotas import QuotaWindows
from .signaling.hub import SignalingHub
from .usage import ChannelUsage, StreamUsage


class KinesisVideoService(
    StreamOperations,
    ChannelOperations,
    TagOperations,
    StreamConfigOperations,
    MediaStorageOperations,
    EdgeOperations,
    ResourceLookup,
):
    """All KVS state of one account in one region."""

    def __init__(self, region_name: str, account_id: str):
        ResourceLookup.__init__(self, region_name, account_id)
        #: HLS/DASH streaming sessions and the segments remuxed for them.
        self.sessions = SessionStore()
        self.segments = SegmentCache()
        #: WebRTC signaling: connections and held messages of every channel.
        self.signaling = SignalingHub()
        #: The rate windows of the service's quotas (:mod:`kvsmock.service.quotas`).
        self.quota_windows = QuotaWindows()

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
