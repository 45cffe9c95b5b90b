"""A GetHLS/GetDASHStreamingSessionURL request checked against the service's rules and made into a session."""

from __future__ import annotations

import weakref
from typing import Any

from ... import clock
from ...errors import InvalidArgumentException, NoDataRetentionException, ResourceNotFoundException
from ..streams import Stream
from .codecs import check_codecs
from .options import (
    DEFAULT_EXPIRES,
    DEFAULT_MAX_LIVE,
    DEFAULT_MAX_ON_DEMAND,
    FRAGMENTED_MP4,
    HLS,
    LIVE,
    LIVE_RECENT_SECONDS,
    LIVE_REPLAY,
    MAX_RANGE_SECONDS,
    ON_DEMAND,
    SERVER_TIMESTAMP,
)
from .segment_cache import SegmentCache
from .session import StreamingSession
from .tokens import new_token


def _range(selector: dict[str, Any] | None) -> tuple[str, float | None, float | None, bool]:
    """(selector type, start, end, whether a TimestampRange was given) of a fragment selector."""
    selector = selector or {}
    selector_type = selector.get("FragmentSelectorType") or SERVER_TIMESTAMP
    ts_range = selector.get("TimestampRange")
    if ts_range is None:
        return selector_type, None, None, False
    start, end = ts_range.get("StartTimestamp"), ts_range.get("EndTimestamp")
    return (
        selector_type,
        float(start) if start is not None else None,
        float(end) if end is not None else None,
        True,
    )


def _check_range(mode: str, selector_key: str, selector_type: str, start: float | None, end: float | None,
                 has_range: bool, now: float) -> None:
    """The service's rules on a playback mode and its TimestampRange."""
    if mode == LIVE and has_range:
        raise InvalidArgumentException(f"{selector_key}.TimestampRange must not be set when PlaybackMode is LIVE.")
    if mode not in (ON_DEMAND, LIVE_REPLAY):
        return
    if not has_range:
        raise InvalidArgumentException(f"{selector_key} with a TimestampRange is required when PlaybackMode is {mode}.")
    if start is None:
        raise InvalidArgumentException(f"{selector_key}.TimestampRange.StartTimestamp is required.")
    if mode == ON_DEMAND and end is None:
        raise InvalidArgumentException(
            f"{selector_key}.TimestampRange.EndTimestamp is required when PlaybackMode is ON_DEMAND."
        )
    if end is not None:
        if end <= start:
            raise InvalidArgumentException("The EndTimestamp must be later than the StartTimestamp.")
        if end - start > MAX_RANGE_SECONDS:
            raise InvalidArgumentException("The EndTimestamp must be within 24 hours of the StartTimestamp.")
        if selector_type == SERVER_TIMESTAMP and end > now:
            raise InvalidArgumentException("With SERVER_TIMESTAMP the EndTimestamp must be in the past.")


def new_session(
    protocol: str,
    stream: Stream,
    account_id: str,
    region: str,
    params: dict[str, Any],
    segments: SegmentCache,
) -> StreamingSession:
    """Check a GetHLS/GetDASHStreamingSessionURL request against the service's rules and make the session.

    ``segments`` is the cache (its backend's) that the session's remuxed segments go to.
    """
    hls = protocol == HLS
    mode = params.get("PlaybackMode") or LIVE
    selector_key = "HLSFragmentSelector" if hls else "DASHFragmentSelector"
    selector_type, start, end, has_range = _range(params.get(selector_key))
    now = clock.now()
    _check_range(mode, selector_key, selector_type, start, end, has_range, now)

    if stream.data_retention_hours <= 0:
        raise NoDataRetentionException(
            f"The stream {stream.name} does not retain data (DataRetentionInHours is 0); "
            f"{protocol} playback needs stored fragments."
        )

    max_key = "MaxMediaPlaylistFragmentResults" if hls else "MaxManifestFragmentResults"
    default_max = DEFAULT_MAX_ON_DEMAND if mode == ON_DEMAND else DEFAULT_MAX_LIVE
    discontinuity_mode = params.get("DiscontinuityMode") if hls else None
    if discontinuity_mode is None:
        discontinuity_mode = "ALWAYS" if (hls and selector_type == SERVER_TIMESTAMP) else "NEVER"
    session = StreamingSession(
        token=new_token(account_id, region),
        protocol=protocol,
        account_id=account_id,
        region=region,
        stream_ref=weakref.ref(stream),
        stream_name=stream.name,
        stream_arn=stream.arn,
        mode=mode,
        selector_type=selector_type,
        start=start,
        end=end,
        max_results=int(params.get(max_key) or default_max),
        created_at=now,
        expires_at=now + int(params.get("Expires") or DEFAULT_EXPIRES),
        container=(params.get("ContainerFormat") or FRAGMENTED_MP4) if hls else FRAGMENTED_MP4,
        discontinuity_mode=discontinuity_mode,
        display_timestamp=params.get("DisplayFragmentTimestamp") == "ALWAYS",
        display_fragment_number=params.get("DisplayFragmentNumber") == "ALWAYS",
        segments=segments,
    )

    first = session.initial_fragments()
    if mode == LIVE:
        newest = first[-1] if first else None
        if newest is None or newest.server_timestamp + newest.duration_ms / 1000 < now - LIVE_RECENT_SECONDS:
            raise ResourceNotFoundException("No fragments found in the stream for the streaming request.")
    elif not first:
        raise ResourceNotFoundException("No fragments found in the stream for the streaming request.")
    sample = first[-1] if mode == LIVE else first[0]
    check_codecs(sample.header, protocol, session.container)
    session.header = sample.header
    session.sample_fragment = sample
    if mode == ON_DEMAND:
        session.populate_on_demand(first)
    return session
