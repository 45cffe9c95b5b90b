"""HLS and DASH streaming sessions: what a session URL may serve, and when.

GetHLSStreamingSessionURL / GetDASHStreamingSessionURL mint a session: an
opaque token bound to one stream, a playback mode, a fragment selector, the
packaging options and an expiry. Every resource fetched under the session URL
(playlists, manifests, init and media segments) presents the token; the
session decides which fragments the player may see at that moment:

* ``ON_DEMAND`` — fixed when the session is made: the fragments whose start
  timestamp lies in the range, oldest first, up to the maximum;
* ``LIVE`` — a window over the newest fragments; a fragment older than the
  newest one already listed is never added later (gaps are not back-filled);
* ``LIVE_REPLAY`` — starts at the range's start and grows like LIVE, but
  each fragment is added only once the previous one's duration has passed
  on the emulator clock; ends when a closed range has been played out.

Every fragment listed becomes a session entry with a sequence number (the
HLS media sequence, the DASH ``$Number$``), its discontinuity flag and the
init segment it decodes with. Media time: HLS segments carry the producer
timestamps; DASH segments follow a gap-free timeline (the service "adjusts
the DASH timeline to hide gaps"), each segment starting where the previous
one ended.

The service layer knows no HTTP: the api layer turns the tokens of query
strings into :meth:`SessionStore.get` calls and the session's answers into
playlists and segments.
"""

from __future__ import annotations

import base64
import binascii
import collections
import re
import secrets
import threading
import weakref
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from .. import clock
from ..errors import (
    ClientLimitExceededException,
    InvalidArgumentException,
    InvalidCodecPrivateDataException,
    MissingCodecPrivateDataException,
    NoDataRetentionException,
    NotAuthorizedException,
    ResourceNotFoundException,
    UnsupportedStreamMediaTypeException,
)
from ..media.matroska import TrackInfo
from ..media.playlists import PlaylistEntry
from .archive import same_tracks
from .fragments import MediaHeader, StoredFragment
from .rate_limit import RateLimiter
from .streams import Stream

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
#: Entries a LIVE session remembers beyond its window, so a player that is a
#: little behind can still fetch the segments of its last playlist.
_HISTORY_EXTRA = 200

VIDEO_CODECS = {
    "V_MPEG4/ISO/AVC": "h264",
    "V_MPEG/ISO/AVC": "h264",
    "V_MPEGH/ISO/HEVC": "h265",
    "V_MPEG/ISO/HEVC": "h265",
}
AAC = "A_AAC"
G711 = "A_MS/ACM"


# ------------------------------------------------------------------ codecs
def _is_aac(track: TrackInfo) -> bool:
    return track.codec_id == AAC or track.codec_id.startswith("A_AAC/")


def check_codecs(header: MediaHeader, protocol: str, container: str = FRAGMENTED_MP4) -> None:
    """The service's codec rules for HLS/DASH, applied to a fragment's tracks.

    Track 1 is H.264 or H.265 video (H.264 only for MPEG-TS) or, audio-only,
    AAC; an optional track 2 is AAC (DASH also takes G.711, ``A_MS/ACM``).
    Every track needs valid codec private data.
    """
    tracks = list(header.tracks)
    if not tracks or len(tracks) > 2:
        raise UnsupportedStreamMediaTypeException(
            "The type of the media could not be determined from the codec IDs of the tracks in the first fragment "
            "for a playback session; track 1 must be H.264 or H.265 video and an optional track 2 AAC audio."
        )
    first = tracks[0]
    video = VIDEO_CODECS.get(first.codec_id)
    if video is None and not _is_aac(first):
        raise UnsupportedStreamMediaTypeException(
            f"Track 1 has codec ID {first.codec_id!r}; {protocol} playback needs V_MPEG4/ISO/AVC (H.264), "
            "V_MPEGH/ISO/HEVC (H.265) or, for audio-only streams, A_AAC."
        )
    if container == MPEG_TS and video == "h265":
        raise UnsupportedStreamMediaTypeException("MPEG_TS sessions carry H.264 video only; use FRAGMENTED_MP4 for H.265.")
    if len(tracks) == 2:
        second = tracks[1]
        allowed = _is_aac(second) or (protocol == DASH and second.codec_id == G711)
        if video is None or not allowed:
            want = "A_AAC or A_MS/ACM" if protocol == DASH else "A_AAC"
            raise UnsupportedStreamMediaTypeException(
                f"Track 2 has codec ID {second.codec_id!r}; {protocol} playback takes {want} as track 2 of a video stream."
            )
    for track in tracks:
        _check_private_data(track)


def _check_private_data(track: TrackInfo) -> None:
    cpd = track.codec_private
    if not cpd:
        raise MissingCodecPrivateDataException(
            f"No codec private data was found in track {track.number} of the video stream."
        )
    kind = VIDEO_CODECS.get(track.codec_id)
    valid = True
    if kind == "h264":
        valid = len(cpd) >= 7 and cpd[0] == 1
    elif kind == "h265":
        valid = len(cpd) >= 23 and cpd[0] == 1
    elif _is_aac(track):
        valid = len(cpd) >= 2 and (cpd[0] >> 3) != 0
    elif track.codec_id == G711:
        valid = len(cpd) >= 16  # WAVEFORMATEX
    if not valid:
        raise InvalidCodecPrivateDataException(
            f"The codec private data in track {track.number} of the video stream is not valid for this operation."
        )


# ------------------------------------------------------------------ entries
@dataclass(frozen=True, slots=True)
class SessionEntry:
    """A fragment as the session lists it."""

    fragment: StoredFragment
    seq: int
    #: Discontinuity tags on entries before this one (the HLS discontinuity sequence).
    discontinuities_before: int
    #: What playlists and manifests show of it (made once, when it joins the session).
    listed: PlaylistEntry

    @property
    def media_time_ms(self) -> int:
        """Where the segment starts on the session's media timeline (epoch ms)."""
        return self.listed.media_time_ms

    @property
    def init_sequence(self) -> int:
        return self.listed.init_sequence


@dataclass(frozen=True)
class Window:
    """What a playlist or manifest fetched now lists."""

    entries: list[PlaylistEntry]
    media_sequence: int
    discontinuity_sequence: int
    #: No fragment will be added any more (ON_DEMAND, or a LIVE_REPLAY range played out).
    ended: bool
    #: Media time (ms) of the first entry the session ever listed (DASH presentationTimeOffset).
    anchor_media_ms: int
    #: Server timestamp (ms) of that first entry: the wall-clock origin of a live DASH timeline.
    anchor_wallclock_ms: int


@dataclass(frozen=True)
class TrackDescription:
    """A track as a master playlist / MPD describes it."""

    number: int
    index: int  # position in the Tracks element = PyAV stream index
    info: TrackInfo

    @property
    def is_video(self) -> bool:
        return self.info.codec_id in VIDEO_CODECS

    @property
    def is_aac(self) -> bool:
        return _is_aac(self.info)


def _ms(seconds: float) -> int:
    return int(round(seconds * 1000))


def new_token(account_id: str, region: str) -> str:
    """An opaque, URL-safe session token (the service's look like ``CiA…~``) naming its account and region."""
    scope = f"{account_id}/{region}/".encode()
    return "CiA" + base64.urlsafe_b64encode(scope + secrets.token_bytes(36)).decode().rstrip("=") + "~"


def token_scope(token: str | None) -> tuple[str, str] | None:
    """(account, region) whose backend holds the session of ``token``; None for a token kvsmock never made."""
    if not token or not token.startswith("CiA") or not token.endswith("~"):
        return None
    body = token[3:-1]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, binascii.Error):
        return None
    parts = raw.split(b"/", 2)
    if len(parts) != 3:
        return None
    try:
        account_id, region = parts[0].decode("ascii"), parts[1].decode("ascii")
    except UnicodeDecodeError:
        return None
    if not (account_id.isdigit() and len(account_id) == 12 and _REGION_CHARS.fullmatch(region)):
        return None
    return account_id, region


_REGION_CHARS = re.compile(r"[a-z0-9-]{1,32}")


# ------------------------------------------------------------------ session
@dataclass
class StreamingSession:
    """One HLS or DASH streaming session."""

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
    segments: SegmentCache = field(default_factory=lambda: SegmentCache())
    #: The header of the first fragment (its tracks describe the session).
    header: MediaHeader | None = None
    sample_fragment: StoredFragment | None = None

    _entries: collections.deque = field(default_factory=collections.deque)
    _by_number: dict[str, SessionEntry] = field(default_factory=dict)
    _next_seq: int = 0
    _discontinuities: int = 0
    _last: SessionEntry | None = None
    _init_fragments: list[StoredFragment] = field(default_factory=list)
    _anchor: SessionEntry | None = None
    _replay_ready_at: float = 0.0
    _limiters: dict[str, RateLimiter] = field(default_factory=dict)
    #: Text of playlists that cannot change any more (ON_DEMAND), by (resource, track).
    rendered: dict[Any, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        if stream is None or current is not stream or stream.status != "ACTIVE":
            raise ResourceNotFoundException("The requested stream is not found or not active.")

    def throttle(self, resource: str) -> None:
        """Count one request for ``resource``; over the per-session TPS, ClientLimitExceeded."""
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

    # -------------------------------------------------------- selection
    def _candidates(self, fragments: Sequence[StoredFragment]) -> list[StoredFragment]:
        """Persisted fragments in the session's range, in ingestion order, producer duplicates removed."""
        start = self.start if self.start is not None else float("-inf")
        end = self.end if self.end is not None else float("inf")
        producer = self.producer
        chosen = []
        for f in fragments:
            if not f.persisted:
                continue
            ts = f.producer_timestamp if producer else f.server_timestamp
            if start <= ts <= end:
                chosen.append(f)
        return dedupe(chosen) if producer else chosen

    def initial_fragments(self) -> list[StoredFragment]:
        """The fragments the session would start with now (for validation at creation)."""
        snapshot = self.stream.store.snapshot()
        if self.mode == LIVE:
            persisted = [f for f in snapshot if f.persisted]
            return persisted[-self.max_results :]
        candidates = self._candidates(snapshot)
        if self.mode == ON_DEMAND:
            return candidates[: self.max_results]
        return candidates[:1]

    # ---------------------------------------------------------- entries
    def _append(self, fragment: StoredFragment) -> SessionEntry:
        last = self._last
        init_sequence = last.init_sequence if last else 0
        new_init = False
        if last is None:
            self._init_fragments.append(fragment)
        elif not same_tracks(last.fragment.header, fragment.header):
            if len(self._init_fragments) < MAX_INIT_SEQUENCES:
                self._init_fragments.append(fragment)
            init_sequence = len(self._init_fragments) - 1
            new_init = True
        if self.discontinuity_mode == "ALWAYS":
            discontinuity = True
        elif last is None:
            discontinuity = False
        elif new_init:
            discontinuity = True
        elif self.discontinuity_mode == "ON_DISCONTINUITY":
            expected = last.fragment.producer_timestamp + last.fragment.duration_ms / 1000
            discontinuity = abs(fragment.producer_timestamp - expected) > DISCONTINUITY_TOLERANCE
        else:
            discontinuity = False
        if self.protocol == DASH and last is not None:
            media_time = last.media_time_ms + last.fragment.duration_ms  # gap-free timeline
        else:
            media_time = _ms(fragment.producer_timestamp)
        listed = PlaylistEntry(
            fragment.number, fragment.duration_ms, _ms(self.timestamp_of(fragment)), discontinuity, init_sequence, media_time
        )
        entry = SessionEntry(fragment, self._next_seq, self._discontinuities, listed)
        self._next_seq += 1
        self._discontinuities += int(discontinuity)
        self._entries.append(entry)
        self._by_number[fragment.number] = entry
        self._last = entry
        if self._anchor is None:
            self._anchor = entry
        if self.mode != ON_DEMAND:
            while len(self._entries) > self.max_results + _HISTORY_EXTRA:
                old = self._entries.popleft()
                if self._by_number.get(old.fragment.number) is old:
                    del self._by_number[old.fragment.number]
        return entry

    def _skip(self, count: int) -> None:
        """LIVE: fragments that arrived while nobody looked and never made it into the window."""
        self._next_seq += count

    def populate_on_demand(self, fragments: Sequence[StoredFragment]) -> None:
        """Fix an ON_DEMAND session's entries (called once, at creation, with :meth:`initial_fragments`)."""
        with self._lock:
            for fragment in fragments:
                self._append(fragment)

    def _advance(self) -> bool:
        """Add what has become visible since the last look; returns whether the session has ended."""
        store = self.stream.store
        if self.mode == ON_DEMAND:
            return True
        fresh = store.newer_than(self._last.fragment.number if self._last is not None else "")
        if self.mode == LIVE:
            fresh = [f for f in fresh if f.persisted]
            if self.producer:
                fresh = dedupe(fresh)
            keep = fresh[-self.max_results :]
            self._skip(len(fresh) - len(keep))
            for fragment in keep:
                self._append(fragment)
            return False
        # LIVE_REPLAY: play the range out at the pace of the fragments' durations.
        pending = self._candidates(fresh)
        now = clock.now()
        for fragment in pending:
            if now < self._replay_ready_at:
                return False
            self._append(fragment)
            self._replay_ready_at = max(self._replay_ready_at, fragment.server_timestamp) + fragment.duration_ms / 1000
        return self.end is not None and (self.producer or self.end <= now)

    def window(self) -> Window:
        """The entries a playlist or manifest fetched now lists."""
        with self._lock:
            ended = self._advance()
            entries = list(self._entries)
            stream = self.stream_ref()
            if stream is not None and (stream.store.expire() or stream.store.removals):  # leave out what expired
                kept = {f.number for f in stream.store.snapshot()}
                entries = [e for e in entries if e.fragment.number in kept]
            if self.mode != ON_DEMAND:
                entries = entries[-self.max_results :]
            anchor = self._anchor
        first = entries[0] if entries else None
        return Window(
            entries=[e.listed for e in entries],
            media_sequence=first.seq if first else self._next_seq,
            discontinuity_sequence=first.discontinuities_before if first else self._discontinuities,
            ended=ended,
            anchor_media_ms=anchor.media_time_ms if anchor else 0,
            anchor_wallclock_ms=_ms(anchor.fragment.server_timestamp) if anchor else _ms(clock.now()),
        )

    # ------------------------------------------------------- resources
    def entry_for_fragment(self, number: str) -> SessionEntry | None:
        with self._lock:
            return self._by_number.get(number)

    def entry_for_sequence(self, seq: int) -> SessionEntry | None:
        with self._lock:
            if not self._entries:
                return None
            first = self._entries[0].seq
            # Sequence numbers are contiguous except where LIVE skipped fragments.
            i = seq - first
            if 0 <= i < len(self._entries) and self._entries[i].seq == seq:
                return self._entries[i]
            for entry in self._entries:
                if entry.seq == seq:
                    return entry
        return None

    def fragment_in_session(self, number: str) -> StoredFragment:
        """A fragment the session may serve: listed by it, or (LIVE modes) a stored fragment of its range."""
        entry = self.entry_for_fragment(number)
        if entry is not None:
            return entry.fragment
        fragment = self.stream.store.by_number(number)
        if fragment is None or not fragment.persisted or self.mode == ON_DEMAND:
            raise ResourceNotFoundException(f"The fragment {number} is not part of this streaming session.")
        if self.mode == LIVE_REPLAY and not self._candidates([fragment]):
            raise ResourceNotFoundException(f"The fragment {number} is not part of this streaming session.")
        return fragment

    def media_time_ms(self, fragment: StoredFragment) -> int:
        """Where a fragment's segment starts on the session's media timeline."""
        entry = self.entry_for_fragment(fragment.number)
        if entry is not None:
            return entry.media_time_ms
        return _ms(fragment.producer_timestamp)

    def init_fragment(self, sequence: int | None) -> StoredFragment:
        """The fragment whose codec private data init segment ``sequence`` is built from."""
        with self._lock:
            if not self._init_fragments:
                self._advance()
            if not self._init_fragments and self.sample_fragment is not None:
                return self.sample_fragment
            index = 0 if sequence is None else sequence
            if not 0 <= index < len(self._init_fragments):
                raise ResourceNotFoundException(f"The streaming session has no init segment {sequence}.")
            return self._init_fragments[index]


def dedupe(fragments: list[StoredFragment]) -> list[StoredFragment]:
    """Of fragments with the same producer start timestamp, keep only the newest (largest number)."""
    newest: dict[float, str] = {}
    for f in fragments:
        if f.number > newest.get(f.producer_timestamp, ""):
            newest[f.producer_timestamp] = f.number
    if len(newest) == len(fragments):
        return fragments
    return [f for f in fragments if newest[f.producer_timestamp] == f.number]


# ----------------------------------------------------------------- creation
def _range(selector: dict[str, Any] | None) -> tuple[str, float | None, float | None, bool]:
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
    selector = params.get(selector_key)
    selector_type, start, end, has_range = _range(selector)
    now = clock.now()

    if mode == LIVE and has_range:
        raise InvalidArgumentException(f"{selector_key}.TimestampRange must not be set when PlaybackMode is LIVE.")
    if mode in (ON_DEMAND, LIVE_REPLAY):
        if not has_range:
            raise InvalidArgumentException(
                f"{selector_key} with a TimestampRange is required when PlaybackMode is {mode}."
            )
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
    session._replay_ready_at = now

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


# -------------------------------------------------------------------- store
class SessionStore:
    """The streaming sessions of one backend (account and region), by token; moto's reset clears it."""

    def __init__(self, max_sessions: int = 10_000):
        self._sessions: dict[str, StreamingSession] = {}
        #: Tokens of sessions whose stream is gone (token -> expiry): they answer like the session would.
        self._dead: dict[str, float] = {}
        self._creations: dict[str, RateLimiter] = {}
        self._lock = threading.Lock()
        self._max = max_sessions

    def admit(self, stream: Stream) -> None:
        """Count one session-URL call on ``stream`` (25 per second per stream)."""
        with self._lock:
            limiter = self._creations.get(stream.arn)
            if limiter is None:
                limiter = self._creations[stream.arn] = RateLimiter(SESSION_URL_TPS)
        if not limiter.allow():
            raise ClientLimitExceededException(
                f"Kinesis Video Streams has throttled the request: more than {SESSION_URL_TPS} streaming "
                f"session requests per second for the stream {stream.name}."
            )

    def add(self, session: StreamingSession) -> None:
        with self._lock:
            self._prune()
            self._sessions[session.token] = session

    def get(self, token: str | None) -> StreamingSession:
        if not token:
            raise InvalidArgumentException("The SessionToken query parameter is required.")
        with self._lock:
            session = self._sessions.get(token)
            if session is not None and not session.stream_alive():
                self._bury(session)
                session = None
            dead_until = self._dead.get(token)
        if dead_until is not None:
            if clock.now() >= dead_until:
                raise NotAuthorizedException("The session token has expired.")
            raise ResourceNotFoundException("The requested stream is not found or not active.")
        if session is None:
            raise NotAuthorizedException("The session token is not valid for any streaming session.")
        return session

    def _bury(self, session: StreamingSession) -> None:
        """Drop a session whose stream is gone (and the fragments it holds), keeping its token's answer."""
        del self._sessions[session.token]
        self._dead[session.token] = session.expires_at

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._dead.clear()
            self._creations.clear()

    def _prune(self) -> None:
        now = clock.now()
        # Expired sessions are kept an hour, so their tokens still read as expired; sessions of
        # deleted streams (or streams a reset cleared) go at once, with the fragments they hold.
        for session in [s for s in self._sessions.values() if not s.stream_alive()]:
            self._bury(session)
        stale = [t for t, s in self._sessions.items() if s.expires_at < now - 3600]
        for token in stale:
            del self._sessions[token]
        for token in [t for t, expires_at in self._dead.items() if expires_at < now - 3600]:
            del self._dead[token]
        while len(self._sessions) >= self._max:
            oldest = min(self._sessions.values(), key=lambda s: s.created_at)
            del self._sessions[oldest.token]
        idle = [arn for arn, limiter in self._creations.items() if limiter.idle_for(5)]
        for arn in idle:
            del self._creations[arn]

    def __len__(self) -> int:
        return len(self._sessions)


# -------------------------------------------------------------------- cache
class SegmentCache:
    """Remuxed segments of stored fragments, least recently used dropped first, bounded in bytes.

    Entries are keyed by the fragment object itself (and what was made of
    it), never by its stream ARN and number alone: two streams can share
    both (the same name re-created under a frozen clock), not their fragments.
    """

    def __init__(self, max_bytes: int = 64 * 1024 * 1024):
        #: (id(fragment), *what) -> (fragment, value); holding the fragment keeps its id from being reused.
        self._items: collections.OrderedDict[Any, tuple[StoredFragment, Any]] = collections.OrderedDict()
        self._bytes = 0
        self._max = max_bytes
        self._lock = threading.Lock()

    @staticmethod
    def _size(value: Any) -> int:
        if isinstance(value, (bytes, bytearray)):
            return len(value)
        return sum(len(v) for v in vars(value).values() if isinstance(v, (bytes, bytearray)))

    def get_or_make(self, fragment: StoredFragment, what: tuple, make: Callable[[], Any]) -> Any:
        """The cached value made of ``fragment`` as ``what`` describes, made now if absent."""
        key = (id(fragment), *what)
        with self._lock:
            held = self._items.get(key)
            if held is not None and held[0] is fragment:
                self._items.move_to_end(key)
                return held[1]
        value = make()
        size = self._size(value)
        with self._lock:
            if key not in self._items and size <= self._max // 4:
                self._items[key] = (fragment, value)
                self._bytes += size
                while self._bytes > self._max:
                    _, (_, old) = self._items.popitem(last=False)
                    self._bytes -= self._size(old)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


def segment_shift(fragment: StoredFragment, media_time_ms: int, cluster_timecode: int) -> Fraction:
    """Seconds to add to a fragment's Matroska timestamps so that its Cluster starts at ``media_time_ms``."""
    scale = fragment.header.timecode_scale_ns
    return Fraction(media_time_ms, 1000) - Fraction(cluster_timecode * scale, 1_000_000_000)
