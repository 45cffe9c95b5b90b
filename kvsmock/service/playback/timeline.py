"""The entries a streaming session lists: which fragments, in what order, numbered how, and when.

A :class:`Timeline` belongs to one session and follows its playback mode:
ON_DEMAND is fixed at creation, LIVE follows the newest fragments, LIVE_REPLAY
plays its range out at the pace of the fragments' durations.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from ... import clock
from ...errors import ResourceNotFoundException
from ...media.playlists import PlaylistEntry
from ..archive import same_tracks
from ..fragments import StoredFragment
from .options import DASH, DISCONTINUITY_TOLERANCE, LIVE, LIVE_REPLAY, MAX_INIT_SEQUENCES, ON_DEMAND
from .timing import ms

if TYPE_CHECKING:
    from .session import StreamingSession

#: Entries a LIVE session remembers beyond its window, so a player that is a
#: little behind can still fetch the segments of its last playlist.
_HISTORY_EXTRA = 200


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


def dedupe(fragments: list[StoredFragment]) -> list[StoredFragment]:
    """Of fragments with the same producer start timestamp, keep only the newest (largest number)."""
    newest: dict[float, str] = {}
    for f in fragments:
        if f.number > newest.get(f.producer_timestamp, ""):
            newest[f.producer_timestamp] = f.number
    if len(newest) == len(fragments):
        return fragments
    return [f for f in fragments if newest[f.producer_timestamp] == f.number]


class Timeline:
    """The entries one session has listed, and the rules that add more (thread-safe)."""

    def __init__(self, session: StreamingSession):
        self.session = session
        self._entries: collections.deque[SessionEntry] = collections.deque()
        self._by_number: dict[str, SessionEntry] = {}
        self._next_seq = 0
        self._discontinuities = 0
        self._last: SessionEntry | None = None
        self._init_fragments: list[StoredFragment] = []
        self._anchor: SessionEntry | None = None
        #: LIVE_REPLAY: the emulator time at which the next fragment may join.
        self._replay_ready_at = session.created_at
        self._lock = threading.Lock()

    # -------------------------------------------------------- selection
    def candidates(self, fragments: Sequence[StoredFragment]) -> list[StoredFragment]:
        """Persisted fragments in the session's range, in ingestion order, producer duplicates removed."""
        s = self.session
        start = s.start if s.start is not None else float("-inf")
        end = s.end if s.end is not None else float("inf")
        chosen = [f for f in fragments if f.persisted and start <= s.timestamp_of(f) <= end]
        return dedupe(chosen) if s.producer else chosen

    def initial_fragments(self) -> list[StoredFragment]:
        """The fragments the session would start with now (for validation at creation)."""
        s = self.session
        snapshot = s.stream.store.snapshot()
        if s.mode == LIVE:
            persisted = [f for f in snapshot if f.persisted]
            return persisted[-s.max_results :]
        candidates = self.candidates(snapshot)
        if s.mode == ON_DEMAND:
            return candidates[: s.max_results]
        return candidates[:1]

    # ---------------------------------------------------------- entries
    def _discontinuity(self, fragment: StoredFragment, new_init: bool) -> bool:
        last, mode = self._last, self.session.discontinuity_mode
        if mode == "ALWAYS":
            return True
        if last is None:
            return False
        if new_init:
            return True
        if mode == "ON_DISCONTINUITY":
            expected = last.fragment.producer_timestamp + last.fragment.duration_ms / 1000
            return abs(fragment.producer_timestamp - expected) > DISCONTINUITY_TOLERANCE
        return False

    def _append(self, fragment: StoredFragment) -> SessionEntry:
        s, last = self.session, self._last
        init_sequence = last.init_sequence if last else 0
        new_init = False
        if last is None:
            self._init_fragments.append(fragment)
        elif not same_tracks(last.fragment.header, fragment.header):
            if len(self._init_fragments) < MAX_INIT_SEQUENCES:
                self._init_fragments.append(fragment)
            init_sequence = len(self._init_fragments) - 1
            new_init = True
        discontinuity = self._discontinuity(fragment, new_init)
        if s.protocol == DASH and last is not None:
            media_time = last.media_time_ms + last.fragment.duration_ms  # gap-free timeline
        else:
            media_time = ms(fragment.producer_timestamp)
        listed = PlaylistEntry(
            fragment.number, fragment.duration_ms, ms(s.timestamp_of(fragment)), discontinuity, init_sequence, media_time
        )
        entry = SessionEntry(fragment, self._next_seq, self._discontinuities, listed)
        self._next_seq += 1
        self._discontinuities += int(discontinuity)
        self._entries.append(entry)
        self._by_number[fragment.number] = entry
        self._last = entry
        if self._anchor is None:
            self._anchor = entry
        if s.mode != ON_DEMAND:
            while len(self._entries) > s.max_results + _HISTORY_EXTRA:
                old = self._entries.popleft()
                if self._by_number.get(old.fragment.number) is old:
                    del self._by_number[old.fragment.number]
        return entry

    def populate_on_demand(self, fragments: Sequence[StoredFragment]) -> None:
        """Fix an ON_DEMAND session's entries (called once, at creation, with :meth:`initial_fragments`)."""
        with self._lock:
            for fragment in fragments:
                self._append(fragment)

    def _advance(self) -> bool:
        """Add what has become visible since the last look; returns whether the session has ended."""
        s = self.session
        if s.mode == ON_DEMAND:
            return True
        fresh = s.stream.store.newer_than(self._last.fragment.number if self._last is not None else "")
        if s.mode == LIVE:
            fresh = [f for f in fresh if f.persisted]
            if s.producer:
                fresh = dedupe(fresh)
            keep = fresh[-s.max_results :]
            # Fragments that arrived while nobody looked and never made it into the window.
            self._next_seq += len(fresh) - len(keep)
            for fragment in keep:
                self._append(fragment)
            return False
        # LIVE_REPLAY: play the range out at the pace of the fragments' durations.
        now = clock.now()
        for fragment in self.candidates(fresh):
            if now < self._replay_ready_at:
                return False
            self._append(fragment)
            self._replay_ready_at = max(self._replay_ready_at, fragment.server_timestamp) + fragment.duration_ms / 1000
        return s.end is not None and (s.producer or s.end <= now)

    def window(self) -> Window:
        """The entries a playlist or manifest fetched now lists."""
        s = self.session
        with self._lock:
            ended = self._advance()
            entries = list(self._entries)
            stream = s.stream_ref()
            if stream is not None and (stream.store.expire() or stream.store.removals):  # leave out what expired
                kept = {f.number for f in stream.store.snapshot()}
                entries = [e for e in entries if e.fragment.number in kept]
            if s.mode != ON_DEMAND:
                entries = entries[-s.max_results :]
            anchor = self._anchor
        first = entries[0] if entries else None
        return Window(
            entries=[e.listed for e in entries],
            media_sequence=first.seq if first else self._next_seq,
            discontinuity_sequence=first.discontinuities_before if first else self._discontinuities,
            ended=ended,
            anchor_media_ms=anchor.media_time_ms if anchor else 0,
            anchor_wallclock_ms=ms(anchor.fragment.server_timestamp) if anchor else ms(clock.now()),
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
        s = self.session
        fragment = s.stream.store.by_number(number)
        if fragment is None or not fragment.persisted or s.mode == ON_DEMAND:
            raise ResourceNotFoundException(f"The fragment {number} is not part of this streaming session.")
        if s.mode == LIVE_REPLAY and not self.candidates([fragment]):
            raise ResourceNotFoundException(f"The fragment {number} is not part of this streaming session.")
        return fragment

    def media_time_ms(self, fragment: StoredFragment) -> int:
        """Where a fragment's segment starts on the session's media timeline."""
        entry = self.entry_for_fragment(fragment.number)
        if entry is not None:
            return entry.media_time_ms
        return ms(fragment.producer_timestamp)

    def init_fragment(self, sequence: int | None) -> StoredFragment:
        """The fragment whose codec private data init segment ``sequence`` is built from."""
        with self._lock:
            if not self._init_fragments:
                self._advance()
            if not self._init_fragments and self.session.sample_fragment is not None:
                return self.session.sample_fragment
            index = 0 if sequence is None else sequence
            if not 0 <= index < len(self._init_fragments):
                raise ResourceNotFoundException(f"The streaming session has no init segment {sequence}.")
            return self._init_fragments[index]
