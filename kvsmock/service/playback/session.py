"""One HLS or DASH streaming session: its settings, its stream, its quotas and its tracks."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ... import clock
from ...errors import ClientLimitExceededException, InvalidArgumentException, NotAuthorizedException, ResourceNotFoundException
from ...media.matroska import TrackInfo
from ..fragments import MediaHeader, StoredFragment
from ..rate_limit import RateLimiter
from ..streams import Stream
from .codecs import is_aac, is_video
from .options import FRAGMENTED_MP4, PRODUCER_TIMESTAMP, RESOURCE_TPS
from .segment_cache import SegmentCache
from .timeline import SessionEntry, Timeline, Window


@dataclass(frozen=True)
class TrackDescription:
    """A track as a master playlist / MPD describes it."""

    number: int
    index: int  # position in the Tracks element = PyAV stream index
    info: TrackInfo

    @property
    def is_video(self) -> bool:
        return is_video(self.info)

    @property
    def is_aac(self) -> bool:
        return is_aac(self.info)


@dataclass
class StreamingSession:
    """One HLS or DASH streaming session (made by :func:`~.creation.new_session`)."""

    token: str
    protocol: str
    account_id: str
    region: str
    #: The stream, weakly: a deleted stream, or one cleared by a reset, is not kept alive by its sessions.
    stream_ref: weakref.ref
    stream_name: str
    stream_arn: str
    mode: str
    selector_type: str
    start: float | None
    end: float | None
    max_results: int
    created_at: float
    expires_at: float
    container: str = FRAGMENTED_MP4
    discontinuity_mode: str = "ALWAYS"
    display_timestamp: bool = False
    display_fragment_number: bool = False
    #: Where its remuxed segments are cached (its backend's cache).
    segments: SegmentCache = field(default_factory=SegmentCache)
    #: The header of the first fragment (its tracks describe the session).
    header: MediaHeader | None = None
    sample_fragment: StoredFragment | None = None
    #: Text of playlists that cannot change any more (ON_DEMAND), by (resource, track).
    rendered: dict[Any, str] = field(default_factory=dict)
    #: The entries it lists.
    timeline: Timeline = field(init=False)
    _limiters: dict[str, RateLimiter] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.timeline = Timeline(self)

    # ------------------------------------------------------------- basics
    @property
    def stream(self) -> Stream:
        stream = self.stream_ref()
        if stream is None:
            raise ResourceNotFoundException("The requested stream is not found or not active.")
        return stream

    def stream_alive(self) -> bool:
        stream = self.stream_ref()
        return stream is not None and stream.status == "ACTIVE"

    @property
    def producer(self) -> bool:
        return self.selector_type == PRODUCER_TIMESTAMP

    def timestamp_of(self, fragment: StoredFragment) -> float:
        return fragment.producer_timestamp if self.producer else fragment.server_timestamp

    def check_open(self, stream_lookup: Callable[[str, str, str], Stream | None]) -> None:
        """Raise the service's error if the session may not be used any more."""
        if clock.now() >= self.expires_at:
            raise NotAuthorizedException("The session token has expired.")
        stream = self.stream_ref()
        current = stream_lookup(self.account_id, self.region, self.stream_name)
        if stream is None or current is not stream or not self.stream_alive():
            raise ResourceNotFoundException("The requested stream is not found or not active.")

    def throttle(self, resource: str) -> None:
        """Count one request for ``resource``; over the per-session TPS, ClientLimitExceeded.

        Resources without a per-session TPS (media segments) pass: the stream's
        fragment buckets limit them (:func:`kvsmock.service.quotas.charge_fragments`).
        """
        if resource not in RESOURCE_TPS:
            return
        with self._lock:
            limiter = self._limiters.get(resource)
            if limiter is None:
                limiter = self._limiters[resource] = RateLimiter(RESOURCE_TPS[resource])
        if not limiter.allow():
            raise ClientLimitExceededException(
                f"Kinesis Video Streams has throttled the request: more than {limiter.limit} requests per second "
                "for this resource of the streaming session."
            )

    def tracks(self) -> list[TrackDescription]:
        assert self.header is not None
        return [TrackDescription(t.number, i, t) for i, t in enumerate(self.header.tracks)]

    def track(self, number: int) -> TrackDescription:
        for track in self.tracks():
            if track.number == number:
                return track
        raise InvalidArgumentException(f"The stream has no track {number}.")

    # ------------------------------------------- what its timeline lists
    def initial_fragments(self) -> list[StoredFragment]:
        return self.timeline.initial_fragments()

    def populate_on_demand(self, fragments: Sequence[StoredFragment]) -> None:
        self.timeline.populate_on_demand(fragments)

    def window(self) -> Window:
        return self.timeline.window()

    def entry_for_fragment(self, number: str) -> SessionEntry | None:
        return self.timeline.entry_for_fragment(number)

    def entry_for_sequence(self, seq: int) -> SessionEntry | None:
        return self.timeline.entry_for_sequence(seq)

    def fragment_in_session(self, number: str) -> StoredFragment:
        return self.timeline.fragment_in_session(number)

    def media_time_ms(self, fragment: StoredFragment) -> int:
        return self.timeline.media_time_ms(fragment)

    def init_fragment(self, sequence: int | None) -> StoredFragment:
        return self.timeline.init_fragment(sequence)
