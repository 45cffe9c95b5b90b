"""One Cluster being received by the fragmenter: its Timecode and frames, checked as they arrive.

The fragmenter hands a :class:`Cluster` the walker events between the
Cluster's start and end. It keeps only counts and times (frame payloads are
never looked at) and raises :class:`~.error_ids.Refusal` as soon as a
PutMedia rule is broken: a second Timecode, frames before it or for an
undeclared track, times not after the previous fragment's last frame, a
fragment too large or too long, tracks without frames.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ebml import ids
from ..ebml.reading import decode_uint
from ..ebml.walker_events import BlockHeader, ElementRead, ElementSkipped, ElementStart
from .error_ids import ErrorId, Refusal
from .events import FragmentStarted

__all__ = ["Cluster", "ClusterRules"]


@dataclass(frozen=True, slots=True)
class ClusterRules:
    """What every Cluster of a body is checked against, known once the header is."""

    track_numbers: frozenset[int]
    #: DefaultDuration (ns) of the tracks that declare one.
    default_durations: dict[int, int]
    timecode_scale: int  #: nanoseconds per timecode unit
    max_size: int  #: bytes
    max_duration: float  #: seconds

    @property
    def max_duration_units(self) -> float:
        return self.max_duration * 1e9 / self.timecode_scale


class Cluster:
    """What is known so far about the Cluster being received (see the module docstring)."""

    __slots__ = (
        "offset",
        "known_size",
        "timecode",
        "frame_count",
        "keyframe",
        "per_track",
        "first_time",
        "last_time",
        "last_track",
        "last_duration",
        "_group",
        "_rules",
        "_max_units",
        "_max_size",
        "_previous",
    )

    def __init__(self, offset: int, known_size: bool, rules: ClusterRules, previous_last_time: int | None) -> None:
        self.offset = offset
        self.known_size = known_size
        self.timecode: int | None = None
        self.frame_count = 0
        self.keyframe = False
        #: per track: [frames, earliest time, latest time]
        self.per_track: dict[int, list[int]] = {}
        self.first_time = 0
        self.last_time = 0
        self.last_track = 0
        self.last_duration: int | None = None
        #: the BlockGroup being read: [track, timecode, frames, duration, has ReferenceBlock]
        self._group: list | None = None
        self._rules = rules
        self._max_units = rules.max_duration_units
        self._max_size = rules.max_size
        self._previous = previous_last_time

    # ------------------------------------------------------------ events
    def element(self, event: ElementStart | ElementRead | ElementSkipped) -> FragmentStarted | None:
        """A child element (or a BlockGroup's): the Timecode, a BlockGroup starting, its duration or reference."""
        if (event.offset if isinstance(event, ElementStart) else event.end) - self.offset > self._max_size:
            raise self._too_large()
        element_id = event.id
        group = self._group
        if isinstance(event, ElementRead):
            if element_id == ids.TIMECODE and group is None:
                return self._timecode(decode_uint(event.payload), event.offset)
            if element_id == ids.BLOCK_DURATION and group is not None:
                group[3] = decode_uint(event.payload)
            return None
        if isinstance(event, ElementStart):
            if element_id == ids.BLOCK_GROUP and group is None:
                if self.timecode is None:
                    raise Refusal(ErrorId.INVALID_MKV_DATA, f"BlockGroup before the Cluster Timecode at {event.offset}")
                self._group = [None, 0, 0, None, False]
                return None
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"element 0x{element_id:X} misplaced at offset {event.offset}")
        # ElementSkipped: Position, PrevSize, Void, CRC-32, ReferenceBlock, unknown elements...
        if element_id == ids.REFERENCE_BLOCK and group is not None:
            group[4] = True
        return None

    def block(self, block: BlockHeader) -> None:
        """A SimpleBlock, or the Block of the BlockGroup being read."""
        if block.end - self.offset > self._max_size:
            raise self._too_large()
        group = self._group
        if block.id == ids.BLOCK:
            if group is None or group[0] is not None:
                raise Refusal(ErrorId.INVALID_MKV_DATA, f"misplaced Block at offset {block.offset}")
            group[0], group[1], group[2] = block.track, block.timecode, block.frames
            return
        if group is not None:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"SimpleBlock inside a BlockGroup at offset {block.offset}")
        self._frame(block.track, block.timecode, bool(block.flags & 0x80), block.frames, None, block.offset)

    def end_group(self) -> None:
        """The BlockGroup being read ended: its Block is a frame (a keyframe unless it has a ReferenceBlock)."""
        track, timecode, frames, duration, referenced = self._group  # type: ignore[misc]
        self._group = None
        if track is None:
            raise Refusal(ErrorId.INVALID_MKV_DATA, "BlockGroup without a Block", self.timecode)
        self._frame(track, timecode, not referenced, frames, duration, None)

    def end(self, end: int) -> int:
        """The Cluster ended at byte ``end``: check it had a Timecode and fits; return the Timecode."""
        if self.timecode is None:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"Cluster at offset {self.offset} has no Timecode")
        if end - self.offset > self._max_size:
            raise Refusal(ErrorId.MAX_FRAGMENT_SIZE_REACHED, "fragment too large", self.timecode)
        return self.timecode

    def duration(self) -> int:
        """The fragment's duration (timecode units), once no more frames can come; checks every track has frames.

        Last frame time - first frame time + the last frame's duration: its
        BlockDuration, else its track's DefaultDuration, else the average
        frame interval of that track in this fragment (0 for a single frame).
        """
        rules = self._rules
        missing = rules.track_numbers - self.per_track.keys()
        if missing or self.frame_count == 0:
            raise Refusal(
                ErrorId.FRAMES_MISSING_FOR_TRACK,
                f"fragment has no frames for track(s) {sorted(missing) or 'any'}",
                self.timecode,
            )
        frame_duration = self.last_duration
        if frame_duration is None:
            default = rules.default_durations.get(self.last_track)
            if default:
                frame_duration = round(default / rules.timecode_scale)
            else:
                count, first, last = self.per_track[self.last_track]
                frame_duration = round((last - first) / (count - 1)) if count > 1 else 0
        duration = self.last_time - self.first_time + frame_duration
        if duration > self._max_units:
            raise self._too_long(duration)
        return duration

    # ------------------------------------------------------------ internals
    def _too_large(self) -> Refusal:
        return Refusal(
            ErrorId.MAX_FRAGMENT_SIZE_REACHED,
            f"fragment exceeds {self._max_size} bytes",
            self.timecode,
        )

    def _not_after_previous(self, what: str, time: int) -> Refusal:
        return Refusal(
            ErrorId.FRAGMENT_TIMECODE_LESSER_THAN_PREVIOUS,
            f"{what} {time} is not later than the previous fragment's last frame {self._previous}",
            self.timecode,
        )

    def _timecode(self, timecode: int, offset: int) -> FragmentStarted:
        if self.timecode is not None:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"second Timecode in a Cluster at offset {offset}")
        self.timecode = timecode
        if self._previous is not None and timecode <= self._previous:
            raise self._not_after_previous("fragment timecode", timecode)
        return FragmentStarted(timecode, self.offset)

    def _frame(
        self, track: int, relative: int, keyframe: bool, frames: int, duration: int | None, offset: int | None
    ) -> None:
        base = self.timecode
        if base is None:
            raise Refusal(ErrorId.INVALID_MKV_DATA, f"frame before the Cluster Timecode at offset {offset}")
        if track not in self._rules.track_numbers:
            raise Refusal(
                ErrorId.TRACK_NUMBER_MISMATCH,
                f"frame for track {track}, which Tracks does not declare",
                base,
            )
        time = base + relative
        if self._previous is not None and time <= self._previous:
            raise self._not_after_previous("frame time", time)
        stats = self.per_track.get(track)
        if stats is None:
            self.per_track[track] = [frames, time, time]
        else:
            stats[0] += frames
            if time < stats[1]:
                stats[1] = time
            if time > stats[2]:
                stats[2] = time
        if self.frame_count == 0:
            self.keyframe = keyframe
            self.first_time = self.last_time = time
            self.last_track, self.last_duration = track, duration
        else:
            if time < self.first_time:
                self.first_time = time
            if time >= self.last_time:
                self.last_time = time
                self.last_track, self.last_duration = track, duration
            if self.last_time - self.first_time > self._max_units:
                raise self._too_long(self.last_time - self.first_time)
        self.frame_count += frames

    def _too_long(self, duration: int) -> Refusal:
        seconds = duration * self._rules.timecode_scale / 1e9
        return Refusal(
            ErrorId.MAX_FRAGMENT_DURATION_REACHED,
            f"fragment lasts {seconds:.3f} s, more than {self._rules.max_duration:g} s",
            self.timecode,
        )
