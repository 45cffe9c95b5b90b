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
#: Per-session requests per second, by resource.
RESOURCE_TPS = {
    "master": 5,
    "media_playlist": 5,
    "manifest": 5,
    "init": 5,
    "mp4_media": 20,
    "ts": 20,
}
