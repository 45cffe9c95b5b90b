"""Service quotas: whether kvsmock enforces them, and the rate limits it checks per call.

The service limits how fast and how much each account, stream and channel
may call (spec section 5). kvsmock enforces those limits by default (mode
``"service"``); mode ``"off"`` lifts every rate and connection-count limit,
for load tests that need more than the service allows. Size and validation
limits (50 MB fragments, 1000 fragments a request, 200 fragments a clip, ...)
stay in both modes: they shape what a call means, not how often it may be made.

* :data:`quotas` — the process-wide mode: ``quotas.set("off")``,
  ``quotas.mode``, ``quotas.enforced``. Every limit in kvsmock asks it:
  :class:`~kvsmock.service.rate_limit.RateLimiter` never refuses while it is
  off (the HLS/DASH per-session and session-URL rates of
  :mod:`~kvsmock.service.playback`, the signaling rates of
  :mod:`~kvsmock.service.signaling.hub` and ``.peers``), and the connection
  counts (:mod:`~kvsmock.service.connections`), the viewer cap and the TURN
  allocations per channel (:mod:`kvsmock.server.turn`) are not checked.
* :func:`admit_call` — the TPS of the control plane (spec 5.1, per account
  and region and per stream or channel), GetMedia and PutMedia (5.2) and the
  account TPS of the signaling and WebRTC-storage REST APIs (6.1, 6.5); the
  api layer calls it for each request before its handler runs.
* :func:`charge_fragments` — the per-stream fragment-metadata and
  fragment-media buckets (spec 5.3) that ListFragments, GetMediaForFragmentList,
  GetClip, GetImages and the HLS/DASH resources draw on.

Each limit is a rolling window of one second of real time (not the
emulator's clock, which may be frozen or moved), kept on the backend of the
account and region, so moto's reset starts every window afresh.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from ..errors import ClientLimitExceededException
from . import rate_limit

SERVICE, OFF = "service", "off"
MODES = (SERVICE, OFF)


class QuotaMode:
    """Whether kvsmock enforces the service's quotas: ``"service"`` (the default) or ``"off"``."""

    def __init__(self) -> None:
        self._mode = SERVICE

    @property
    def mode(self) -> str:
        """``"service"`` or ``"off"``."""
        return self._mode

    @property
    def enforced(self) -> bool:
        """True while the service's rate and connection limits are enforced."""
        return self._mode == SERVICE

    def set(self, mode: str) -> None:
        """Switch every limit on (``"service"``) or off (``"off"``) for the whole process."""
        if not isinstance(mode, str) or mode not in MODES:
            raise ValueError(f"quotas mode must be 'service' or 'off', not {mode!r}")
        self._mode = mode

    def __repr__(self) -> str:
        return f"<kvsmock quotas: {self._mode}>"


#: The process-wide quota mode (exported as ``kvsmock.quotas``).
quotas = QuotaMode()


# ------------------------------------------------------------------ call rates
@dataclass(frozen=True)
class CallLimit:
    """Calls per second of one operation: per account and region, and per stream or channel (None: none)."""

    account: int | None
    resource: int | None


_STREAM_CONFIG = CallLimit(50, 5)
_CHANNEL_CONFIG = CallLimit(50, 5)

#: Control plane (spec 5.1), PutMedia and GetMedia (5.2), signaling REST (6.1) and WebRTC storage (6.5).
#: Each operation has windows of its own (the service's quota table gives one row per API).
CALL_LIMITS: dict[str, CallLimit] = {
    # streams
    "CreateStream": CallLimit(50, None),
    "DescribeStream": CallLimit(300, 5),
    "GetDataEndpoint": CallLimit(300, 5),
    "UpdateStream": _STREAM_CONFIG,
    "DeleteStream": _STREAM_CONFIG,
    "UpdateDataRetention": _STREAM_CONFIG,
    "TagStream": _STREAM_CONFIG,
    "UntagStream": _STREAM_CONFIG,
    "ListTagsForStream": _STREAM_CONFIG,
    "DescribeImageGenerationConfiguration": _STREAM_CONFIG,
    "UpdateImageGenerationConfiguration": _STREAM_CONFIG,
    "DescribeNotificationConfiguration": _STREAM_CONFIG,
    "UpdateNotificationConfiguration": _STREAM_CONFIG,
    "DescribeMappedResourceConfiguration": _STREAM_CONFIG,
    "DescribeStreamStorageConfiguration": _STREAM_CONFIG,
    "UpdateStreamStorageConfiguration": _STREAM_CONFIG,
    "ListStreams": CallLimit(50, None),
    "ListEdgeAgentConfigurations": CallLimit(50, None),
    "StartEdgeConfigurationUpdate": CallLimit(10, 1),
    "DeleteEdgeConfiguration": CallLimit(10, 1),
    "DescribeEdgeConfiguration": CallLimit(50, 5),
    # signaling channels
    "CreateSignalingChannel": CallLimit(50, None),
    "DescribeSignalingChannel": CallLimit(300, 5),
    "GetSignalingChannelEndpoint": CallLimit(300, None),
    "DeleteSignalingChannel": _CHANNEL_CONFIG,
    "UpdateSignalingChannel": _CHANNEL_CONFIG,
    "TagResource": _CHANNEL_CONFIG,
    "UntagResource": _CHANNEL_CONFIG,
    "ListTagsForResource": _CHANNEL_CONFIG,
    "DescribeMediaStorageConfiguration": _CHANNEL_CONFIG,
    "UpdateMediaStorageConfiguration": CallLimit(10, 5),
    # media (the connection counts are in kvsmock.service.connections)
    "PutMedia": CallLimit(None, 5),
    "GetMedia": CallLimit(None, 5),
    # signaling REST and WebRTC storage: the per-channel rates are the signaling hub's
    "GetIceServerConfig": CallLimit(100, None),
    "SendAlexaOfferToMaster": CallLimit(100, None),
    "JoinStorageSession": CallLimit(50, None),
    "JoinStorageSessionAsViewer": CallLimit(50, None),
}
#: Operations that share one account window (WebRTC storage's 50 TPS covers both joins).
_SHARED_WINDOW = {"JoinStorageSessionAsViewer": "JoinStorageSession"}

#: Request members naming the stream or channel an operation acts on, and the kind each names.
_RESOURCE_MEMBERS = (
    ("StreamName", "stream"),
    ("StreamARN", "stream"),
    ("ChannelName", "channel"),
    ("ChannelARN", "channel"),
    ("ResourceARN", None),  # a stream or a channel: the ARN says which
)
_KIND_WORDS = {"stream": "stream", "channel": "signaling channel"}


def _resource_key(params: dict[str, Any]) -> tuple[str, str] | None:
    """(kind, name) of the stream or channel ``params`` name; an ARN and the name of one resource agree."""
    for member, kind in _RESOURCE_MEMBERS:
        value = params.get(member)
        if not isinstance(value, str) or not value:
            continue
        if member.endswith("ARN"):
            # arn:aws:kinesisvideo:region:account:stream/NAME/creation-ms
            resource = value.split(":", 5)[-1].split("/")
            if len(resource) == 3 and resource[1]:
                return (kind or resource[0], resource[1])
            return (kind or "resource", value)
        return (kind or "resource", value)
    return None


# -------------------------------------------------------- fragment buckets
#: Points per second per stream (spec 5.3).
FRAGMENT_METADATA_POINTS = 10_000
FRAGMENT_MEDIA_POINTS = 500


class FragmentBuckets:
    """The fragment-metadata and fragment-media buckets of one stream, charged together or not at all.

    A call is admitted while each bucket it draws on has points left, and
    takes all of its points even past the limit (kvsmock's reading: a
    GetMediaForFragmentList of 1,000 fragments, which the API allows, costs
    more than the 500 media points a second; it passes when the bucket is
    not exhausted, and the calls after it wait until the window has room).
    """

    def __init__(self) -> None:
        self.metadata = rate_limit.RateLimiter(FRAGMENT_METADATA_POINTS)
        self.media = rate_limit.RateLimiter(FRAGMENT_MEDIA_POINTS)
        self._lock = threading.Lock()

    def charge(self, metadata: int, media: int) -> str | None:
        """Take the points from both buckets; the bucket without room (nothing taken) if one has none left."""
        with self._lock:
            if metadata and not self.metadata.has_room(1):
                return "metadata"
            if media and not self.media.has_room(1):
                return "media"
            if metadata:
                self.metadata.count(metadata)
            if media:
                self.media.count(media)
            return None

    def idle(self) -> bool:
        return self.metadata.idle_for(5) and self.media.idle_for(5)


class QuotaWindows:
    """The rate windows of one backend (account and region): per operation, resource and stream."""

    #: Windows kept before idle ones are dropped (each is a few hundred bytes); the mark doubles
    #: while most of them are in use, so that dropping stays rare.
    PRUNE_AT = 2048

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._admitting = threading.Lock()
        self._calls: dict[tuple[str, ...], rate_limit.RateLimiter] = {}
        self._fragments: dict[str, FragmentBuckets] = {}
        self._prune_calls_at = self._prune_fragments_at = self.PRUNE_AT

    def limiter(self, key: tuple[str, ...], limit: int) -> rate_limit.RateLimiter:
        with self._lock:
            limiter = self._calls.get(key)
            if limiter is None:
                if len(self._calls) >= self._prune_calls_at:
                    for stale in [k for k, v in self._calls.items() if v.idle_for(5)]:
                        del self._calls[stale]
                    self._prune_calls_at = max(self.PRUNE_AT, 2 * len(self._calls))
                limiter = self._calls[key] = rate_limit.RateLimiter(limit)
            return limiter

    def admit(self, windows: list[tuple[tuple[str, ...], int]]) -> int | None:
        """Count one call in every window (key, calls per second) if all have room; else the index of
        the first without room, nothing counted."""
        limiters = [self.limiter(key, limit) for key, limit in windows]
        with self._admitting:
            for i, limiter in enumerate(limiters):
                if not limiter.has_room(1):
                    return i
            for limiter in limiters:
                limiter.allow()
        return None

    def buckets(self, stream_arn: str) -> FragmentBuckets:
        with self._lock:
            buckets = self._fragments.get(stream_arn)
            if buckets is None:
                if len(self._fragments) >= self._prune_fragments_at:
                    for stale in [k for k, v in self._fragments.items() if v.idle()]:
                        del self._fragments[stale]
                    self._prune_fragments_at = max(self.PRUNE_AT, 2 * len(self._fragments))
                buckets = self._fragments[stream_arn] = FragmentBuckets()
            return buckets


#: Where a backend keeps its windows.
_WINDOWS_ATTR = "quota_windows"


def windows_for(backend: Any) -> QuotaWindows:
    """The quota windows of one backend, kept on it (``backend.quota_windows``): moto's reset,
    which empties a backend's ``__dict__``, starts them afresh. ``dict.setdefault`` is atomic."""
    windows = backend.__dict__.get(_WINDOWS_ATTR)
    if windows is None:
        windows = backend.__dict__.setdefault(_WINDOWS_ATTR, QuotaWindows())
    return windows


def admit_call(backend: Any, operation: str, params: dict[str, Any]) -> None:
    """Count one call of ``operation`` against its per-resource and account TPS; over either,
    ClientLimitExceededException (and the call counts in neither).

    ``params`` are the request's members; the stream or channel the call is
    about comes from StreamName, StreamARN, ChannelName, ChannelARN or
    ResourceARN (an ARN and the name of one resource share a window).
    Operations without a limit here pass (some are limited where they are
    served: see the module docstring). Nothing is checked while quotas are off.
    """
    limit = CALL_LIMITS.get(operation)
    if limit is None or not quotas.enforced:
        return
    checks: list[tuple[tuple[str, ...], int, str]] = []
    resource = _resource_key(params) if limit.resource is not None else None
    if resource is not None and limit.resource is not None:
        kind, name = resource
        checks.append((
            ("resource", operation, kind, name), limit.resource,
            f"{operation} is limited to {limit.resource} calls per second per {_KIND_WORDS.get(kind, 'resource')} ({name})",
        ))
    if limit.account is not None:
        checks.append((
            ("account", _SHARED_WINDOW.get(operation, operation)), limit.account,
            f"{operation} is limited to {limit.account} calls per second per account and Region",
        ))
    refused = windows_for(backend).admit([(key, n) for key, n, _ in checks])
    if refused is not None:
        raise ClientLimitExceededException(f"Kinesis Video Streams has throttled the request: {checks[refused][2]}.")


def charge_fragments(backend: Any, stream: Any, *, metadata: int = 0, media: int = 0, operation: str = "") -> None:
    """Take ``metadata`` and ``media`` points from ``stream``'s fragment buckets (spec 5.3), both or
    neither; ClientLimitExceededException when one has no room. Nothing is charged while quotas are off."""
    if not quotas.enforced or not (metadata or media):
        return
    short = windows_for(backend).buckets(stream.arn).charge(metadata, media)
    if short is None:
        return
    points, limit = (metadata, FRAGMENT_METADATA_POINTS) if short == "metadata" else (media, FRAGMENT_MEDIA_POINTS)
    raise ClientLimitExceededException(
        f"Kinesis Video Streams has throttled the request: {operation or 'the call'} needs {points} fragment-{short} "
        f"points and the stream {stream.name} has used its {limit:,} a second."
    )
