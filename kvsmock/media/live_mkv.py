"""A producer-style MKV stream written as frames arrive: H.264 access units and AAC frames in, fragments out.

What a WebRTC storage session stores is made here (sans-I/O, no clock of
its own: every time is the frame's, epoch milliseconds). Video comes as
Annex-B access units exactly as the peer sent them; they are reframed with
4-byte NAL lengths, nothing else changes (parameter sets stay in band).
The stream's header (EBML header, unknown-size Segment, Info, Tracks) is
made from the first IDR access unit's SPS and PPS: H.264 on track 1 with
its ``avcC`` CodecPrivate and picture size, AAC on track 2 with its
AudioSpecificConfig.

Fragments follow the PutMedia rules a producer follows: each Cluster opens
on a keyframe once the open one has lasted ``min_fragment_ms`` (or, should
no keyframe come, at the next frame after ``max_fragment_ms``), holds a
frame of every track, and every frame of it is later than the previous
fragment's. A closed Cluster waits for audio to cover its span (up to
``audio_wait_ms`` of video time); a span without any audio gets silent AAC
frames, and audio that comes too late for its fragment is dropped. New
parameter sets start a new stream (a new header): each
:class:`LiveFragment` carries the header of the stream it belongs to.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from .codecs import aac, h264
from .codecs.h264 import NAL_IDR, NAL_PPS, NAL_SPS, avc_config, nal_type, sps_dimensions
from .codecs.nal import annexb_units, length_prefixed
from .ebml import ids
from .ebml.writing import UNKNOWN_SIZE_SEGMENT_HEADER, ebml_header, tags_element
from .matroska.tags import END_OF_FRAGMENT
from .matroska.tracks import TrackInfo
from .matroska.writer import Packet, cluster_element, header_elements

__all__ = ["AUDIO_TRACK", "VIDEO_TRACK", "LiveAudio", "LiveFragment", "LiveMkv"]

VIDEO_TRACK, AUDIO_TRACK = 1, 2
#: Audio frames kept while no fragment can take them (about 40 s of AAC at 48 kHz).
MAX_BUFFERED_AUDIO = 2000


@dataclass(frozen=True)
class LiveAudio:
    """The AAC track: its AudioSpecificConfig, format, one frame's duration and a silent frame."""

    codec_private: bytes
    sampling_rate: int
    channels: int
    frame_ms: float
    silence: bytes


@dataclass(frozen=True)
class LiveFragment:
    """One fragment: its stream's header and its Cluster, closed by an end-of-fragment Tags element."""

    header: bytes
    cluster: bytes
    timecode: int  #: the Cluster Timecode, epoch ms
    keyframe: bool  #: whether it opens on a keyframe
    frames: dict[int, int]  #: frames per track number


@dataclass
class _Cluster:
    header: bytes
    start: int
    keyframe: bool
    video: list[Packet] = field(default_factory=list)
    end: int = 0


class LiveMkv:
    """Makes a live MKV stream's fragments from H.264 access units and AAC frames (see the module docstring)."""

    def __init__(
        self,
        audio: LiveAudio | None = None,
        *,
        min_fragment_ms: int = 1000,
        target_fragment_ms: int = 2000,
        max_fragment_ms: int = 10000,
        audio_wait_ms: int = 1000,
        app: str = "kvsmock",
    ):
        self.audio_track = audio
        self.min_fragment_ms = min_fragment_ms
        self.target_fragment_ms = target_fragment_ms
        self.max_fragment_ms = max_fragment_ms
        self.audio_wait_ms = audio_wait_ms
        self.app = app
        #: The current stream's header (None until the first IDR access unit with its parameter sets).
        self.header: bytes | None = None
        self._params: tuple[tuple[bytes, ...], tuple[bytes, ...]] | None = None
        self._open: _Cluster | None = None
        self._closed: deque[_Cluster] = deque()
        self._audio: deque[Packet] = deque()
        self._audio_until = -(2**62)
        self._last_video: int | None = None
        self._last_emitted: int | None = None
        #: Frames dropped: before the first keyframe, out of order, or too late for their fragment.
        self.dropped = 0

    # ---------------------------------------------------------------- input
    def video(self, time_ms: int, access_unit: bytes) -> list[LiveFragment]:
        """One H.264 access unit (Annex-B); returns the fragments it completes."""
        units = annexb_units(access_unit)
        if not units or (self._last_video is not None and time_ms <= self._last_video):
            self.dropped += 1
            return []
        types = [nal_type(unit) for unit in units]
        keyframe = NAL_IDR in types
        sps = tuple(u for u, t in zip(units, types) if t == NAL_SPS)
        pps = tuple(u for u, t in zip(units, types) if t == NAL_PPS)
        opened = self._open
        if keyframe and sps and pps and (sps, pps) != self._params:
            self._new_stream(sps, pps)
            if opened is not None:
                self._close(time_ms)
            opened = None
        elif self.header is None:
            self.dropped += 1  # nothing can be stored before a keyframe with its parameter sets
            return []
        assert self.header is not None
        if opened is not None:
            age = time_ms - opened.start
            if (keyframe and age >= self.min_fragment_ms) or age >= self.max_fragment_ms:
                self._close(time_ms)
                opened = None
        if opened is None:
            opened = self._open = _Cluster(self.header, time_ms, keyframe)
        opened.video.append(Packet(VIDEO_TRACK, time_ms, keyframe, length_prefixed(units)))
        self._last_video = time_ms
        return self._ready()

    def audio(self, time_ms: int, frame: bytes) -> list[LiveFragment]:
        """One AAC frame; returns the fragments it completes."""
        if self.audio_track is None:
            return []
        late = self._last_emitted is not None and time_ms <= self._last_emitted
        if self.header is None or late or (self._audio and time_ms <= self._audio[-1].time_ms):
            self.dropped += 1
            return []
        self._audio.append(Packet(AUDIO_TRACK, time_ms, True, frame))
        if len(self._audio) > MAX_BUFFERED_AUDIO:
            self._audio.popleft()
            self.dropped += 1
        self._audio_until = max(self._audio_until, round(time_ms + self.audio_track.frame_ms))
        return self._ready()

    def flush(self) -> list[LiveFragment]:
        """The stream ends: every fragment still open or waiting, with the audio there is."""
        if self._open is not None:
            last = max([self._last_video or 0] + [p.time_ms for p in self._audio])
            self._close(last + 1)
        out = [self._fragment(cluster) for cluster in self._closed]
        self._closed.clear()
        self._audio.clear()
        return out

    @property
    def wants_keyframe(self) -> bool:
        """True when the open fragment has lasted ``target_fragment_ms`` without a keyframe to end it."""
        opened = self._open
        return opened is not None and self._last_video is not None and (
            self._last_video - opened.start >= self.target_fragment_ms
        )

    # ------------------------------------------------------------- internals
    def _new_stream(self, sps: tuple[bytes, ...], pps: tuple[bytes, ...]) -> None:
        width, height = sps_dimensions(sps[0])
        tracks = [
            TrackInfo(
                VIDEO_TRACK,
                h264.CODEC_ID,
                ids.TRACK_TYPE_VIDEO,
                avc_config(list(sps), list(pps)),
                name="video",
                width=width,
                height=height,
            )
        ]
        if self.audio_track is not None:
            a = self.audio_track
            tracks.append(
                TrackInfo(
                    AUDIO_TRACK,
                    aac.CODEC_ID,
                    ids.TRACK_TYPE_AUDIO,
                    a.codec_private,
                    name="audio",
                    sampling_rate=float(a.sampling_rate),
                    channels=a.channels,
                )
            )
        self._params = (sps, pps)
        self.header = ebml_header("matroska") + UNKNOWN_SIZE_SEGMENT_HEADER + header_elements(tracks, app=self.app)

    def _close(self, end: int) -> None:
        assert self._open is not None
        self._open.end = end
        self._closed.append(self._open)
        self._open = None

    def _ready(self) -> list[LiveFragment]:
        """The closed fragments whose audio has come (or can no longer be waited for)."""
        out = []
        while self._closed:
            cluster = self._closed[0]
            waited = (self._last_video or 0) - cluster.end
            if self.audio_track is not None and self._audio_until < cluster.end and waited < self.audio_wait_ms:
                break
            self._closed.popleft()
            out.append(self._fragment(cluster))
        return out

    def _fragment(self, cluster: _Cluster) -> LiveFragment:
        audio: list[Packet] = []
        while self._audio and self._audio[0].time_ms < cluster.end:
            packet = self._audio.popleft()
            if packet.time_ms >= cluster.start:
                audio.append(packet)
            else:
                self.dropped += 1  # before its fragment's keyframe: too late
        if self.audio_track is not None and not audio:
            audio = self._silence(cluster)
        packets = sorted(cluster.video + audio, key=lambda p: (p.time_ms, p.track))
        self._last_emitted = packets[-1].time_ms
        body = cluster_element(cluster.start, packets) + tags_element([(END_OF_FRAGMENT, "")])
        frames = {VIDEO_TRACK: len(cluster.video)}
        if audio:
            frames[AUDIO_TRACK] = len(audio)
        return LiveFragment(cluster.header, body, cluster.start, cluster.keyframe, frames)

    def _silence(self, cluster: _Cluster) -> list[Packet]:
        """Silent AAC frames across a fragment no audio came for (every fragment needs a frame per track)."""
        assert self.audio_track is not None
        step = self.audio_track.frame_ms
        count = max(1, int((cluster.end - cluster.start) // step))
        times = sorted({cluster.start + round(i * step) for i in range(count)})
        return [Packet(AUDIO_TRACK, t, True, self.audio_track.silence) for t in times]
