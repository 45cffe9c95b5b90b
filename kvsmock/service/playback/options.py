"""The values a streaming-session request chooses among, and the service's defaults and quotas."""

from __future__ import annotations

HLS, DASH = "HLS", "DASH"
LIVE, LIVE_REPLAY, ON_DEMAND = "LIVE", "LIVE_REPLAY", "ON_DEMAND"
SERVER_TIMESTAMP, PRODUCER_TIMESTAMP = "SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"
FRAGMENTED_MP4, MPEG_TS = "FRAGMENTED_MP4", "MPEG_TS"

DEFAULT_EXPIRES = 300
DEFAULT_MAX_LIVE = 5
DEFAULT_MAX_ON_DEMAND = 1000
#: A LIVE session needs a fragment this recent (seconds).
LIVE_RECENT_SECONDS = 30
#: ON_DISCONTINUITY marks gaps or overlaps longer than this (seconds).
DISCONTINUITY_TOLERANCE = 0.050
MAX_RANGE_SECONDS = 24 * 3600
#: Changes of codec private data an HLS session follows (one init segment each).
MAX_INIT_SEQUENCES = 500
#: Per-stream GetHLS/GetDASHStreamingSessionURL calls per second.
SESSION_URL_TPS = 25
#: Per-session requests per second, by resource. Media segments (getMP4MediaFragment,
#: getTSFragment) have none: the service moved them to the stream's fragment-media
#: bucket (1 point each, :mod:`kvsmock.service.quotas`), so a player fetching audio and
#: video segments of one session is not held to 20 a second.
RESOURCE_TPS = {
    "master": 5,
    "media_playlist": 5,
    "manifest": 5,
    "init": 5,
}
#: Resources that draw on the stream's fragment buckets instead (metadata: the session's
#: MaxMediaPlaylistFragmentResults / MaxManifestFragmentResults points; media: 1 point).
METADATA_RESOURCES = ("media_playlist", "manifest")
MEDIA_SEGMENT_RESOURCES = ("mp4_media", "ts")
