"""HLS playlists and DASH manifests as text: pure functions, no I/O, no AWS.

The shapes follow what the service sends (see spec/kvs-wire.md §3.7): URIs
relative to the session URL, every one carrying the ``SessionToken``; media
playlists with ``#EXT-X-DISCONTINUITY`` where the caller marks one,
``#EXT-X-MAP`` naming the init segment by ``SequenceNumber``, optional
``#EXT-X-PROGRAM-DATE-TIME``; MPDs with one AdaptationSet per track and a
SegmentTimeline whose ``S`` elements may carry ``kvs:ts`` / ``kvs:fn``.

These are on the hot path of every LIVE player refresh (about once a
second per viewer) and a playlist may list thousands of fragments, so the
builders keep per-entry work to a few string joins (a 10,000-entry media
playlist builds in a few milliseconds; see benchmarks/playlist.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence
from xml.sax.saxutils import quoteattr

__all__ = [
    "DashTrack",
    "KVS_NAMESPACE",
    "PlaylistEntry",
    "dash_manifest",
    "hls_master_playlist",
    "hls_media_playlist",
    "iso_duration",
    "iso_timestamp",
]

#: Namespace of the ``kvs:ts`` / ``kvs:fn`` attributes (the service's URI is unverified).
KVS_NAMESPACE = "https://kinesisvideo.amazonaws.com/dash/kvs"

MP4_MEDIA = "getMP4MediaFragment.mp4"
MP4_INIT = "getMP4InitFragment.mp4"
TS_MEDIA = "getTSFragment.ts"
MEDIA_PLAYLIST = "getHLSMediaPlaylist.m3u8"


@dataclass(frozen=True, slots=True)
class PlaylistEntry:
    """One fragment as a playlist or manifest lists it."""

    fragment_number: str
    duration_ms: int
    #: Shown as ``#EXT-X-PROGRAM-DATE-TIME`` / ``kvs:ts`` (epoch milliseconds).
    timestamp_ms: int
    #: Put ``#EXT-X-DISCONTINUITY`` before this segment.
    discontinuity: bool = False
    #: The init segment (``SequenceNumber``) this segment decodes with.
    init_sequence: int = 0
    #: Media time of the segment start in milliseconds (the DASH ``S@t``).
    media_time_ms: int = 0


# ---------------------------------------------------------------- formatting
@lru_cache(maxsize=64)
def _day(days: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(days * 86_400))


def iso_timestamp(epoch_ms: int) -> str:
    """``2023-05-17T13:48:35.994Z`` for epoch milliseconds."""
    days, rem = divmod(epoch_ms, 86_400_000)
    hours, rem = divmod(rem, 3_600_000)
    minutes, rem = divmod(rem, 60_000)
    seconds, millis = divmod(rem, 1000)
    return f"{_day(days)}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


@lru_cache(maxsize=4096)
def _seconds(ms: int) -> str:
    """Milliseconds as decimal seconds without trailing zeros: 2663 -> 2.663, 2680 -> 2.68, 2000 -> 2."""
    whole, frac = divmod(ms, 1000)
    if not frac:
        return str(whole)
    return f"{whole}.{frac:03d}".rstrip("0")


#: Pieces of "SS.mmmZ\n", looked up instead of formatted on the hot path.
_SECONDS = [f"{i:02d}." for i in range(60)]
_MILLIS = [f"{i:03d}Z\n" for i in range(1000)]


def iso_duration(ms: int) -> str:
    """An xs:duration in seconds: ``PT6.04S``."""
    return f"PT{_seconds(max(0, ms))}S"


# ----------------------------------------------------------------------- HLS
def hls_master_playlist(
    token: str,
    *,
    codecs: Sequence[str],
    bandwidth: int,
    resolution: tuple[int, int] | None = None,
    frame_rate: float | None = None,
    video_track: int | None = 1,
    audio_track: int | None = None,
    muxed: bool = False,
) -> str:
    """The master playlist: one variant stream, plus an audio rendition when audio is a separate track.

    ``muxed`` (MPEG-TS sessions) means one media playlist carries every track,
    so there is no separate audio rendition and the variant's URI names no track.
    """
    lines = ["#EXTM3U", "#EXT-X-VERSION:1"]
    attrs = []
    if codecs:
        attrs.append(f'CODECS="{",".join(codecs)}"')
    if resolution:
        attrs.append(f"RESOLUTION={resolution[0]}x{resolution[1]}")
    if frame_rate:
        attrs.append(f"FRAME-RATE={frame_rate:.2f}")
    attrs.append(f"BANDWIDTH={max(1, int(bandwidth))}")
    if muxed:
        uri = f"{MEDIA_PLAYLIST}?SessionToken={token}"
    else:
        if audio_track is not None and video_track is not None:
            lines.append(
                f'#EXT-X-MEDIA:AUTOSELECT=YES,FORCED=NO,TYPE=AUDIO,URI="{MEDIA_PLAYLIST}?SessionToken={token}'
                f'&TrackNumber={audio_track}",GROUP-ID="audio",DEFAULT=NO,NAME="audio"'
            )
            attrs.append('AUDIO="audio"')
        track = video_track if video_track is not None else audio_track
        uri = f"{MEDIA_PLAYLIST}?SessionToken={token}&TrackNumber={track}"
    lines.append("#EXT-X-STREAM-INF:" + ",".join(attrs))
    lines.append(uri)
    return "\n".join(lines) + "\n"


def hls_media_playlist(
    entries: Sequence[PlaylistEntry],
    token: str,
    *,
    track_number: int = 1,
    mpeg_ts: bool = False,
    media_sequence: int = 0,
    discontinuity_sequence: int = 0,
    vod: bool = False,
    ended: bool = False,
    program_date_time: bool = False,
    trailing_discontinuity: bool = False,
    target_duration_ms: int | None = None,
) -> str:
    """A media playlist listing ``entries`` in order.

    ``vod`` adds ``#EXT-X-PLAYLIST-TYPE:VOD``; ``ended`` adds ``#EXT-X-ENDLIST``
    (after one more ``#EXT-X-DISCONTINUITY`` when ``trailing_discontinuity``,
    as the service does in ALWAYS mode). The target duration is the longest
    entry rounded up (or ``target_duration_ms`` if that is longer).
    """
    longest = max((e.duration_ms for e in entries), default=1000)
    if target_duration_ms and target_duration_ms > longest:
        longest = target_duration_ms
    target = max(1, -(-longest // 1000))
    out = ["#EXTM3U", f"#EXT-X-VERSION:{3 if mpeg_ts else 7}"]
    if vod:
        out.append("#EXT-X-PLAYLIST-TYPE:VOD")
    out.append(f"#EXT-X-TARGETDURATION:{target}")
    out.append(f"#EXT-X-MEDIA-SEQUENCE:{media_sequence}")
    if discontinuity_sequence:
        out.append(f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}")
    out.append("#EXT-X-INDEPENDENT-SEGMENTS")

    head = "\n".join(out) + "\n"
    # One pass, appending finished pieces (each ends with a newline).
    parts: list[str] = [head]
    append = parts.append
    seconds = _seconds
    if mpeg_ts:
        uri_head = f"{TS_MEDIA}?FragmentNumber="
        uri_tail = f"&SessionToken={token}\n"
    else:
        uri_head = f"{MP4_MEDIA}?FragmentNumber="
        uri_tail = f"&SessionToken={token}&TrackNumber={track_number}\n"
    map_head = f'#EXT-X-MAP:URI="{MP4_INIT}?SessionToken={token}&TrackNumber={track_number}&SequenceNumber='
    current_init = None
    minute_lo = minute_hi = 0
    minute_head = ""
    for e in entries:
        if e.discontinuity:
            append("#EXT-X-DISCONTINUITY\n")
        if not mpeg_ts and e.init_sequence != current_init:
            current_init = e.init_sequence
            append(f'{map_head}{current_init}"\n')
        if program_date_time:
            # Format the date and minute once per minute, then only seconds.millis.
            ts = e.timestamp_ms
            if not minute_lo <= ts < minute_hi:
                minute_lo = ts - ts % 60_000
                minute_hi = minute_lo + 60_000
                minute_head = "#EXT-X-PROGRAM-DATE-TIME:" + iso_timestamp(minute_lo)[:-7]
            rest = ts - minute_lo
            append(minute_head + _SECONDS[rest // 1000] + _MILLIS[rest % 1000])
        append(f"#EXTINF:{seconds(e.duration_ms)},\n{uri_head}{e.fragment_number}{uri_tail}")
    if ended:
        if trailing_discontinuity and entries:
            append("#EXT-X-DISCONTINUITY\n")
        append("#EXT-X-ENDLIST\n")
    return "".join(parts)


# ---------------------------------------------------------------------- DASH
@dataclass(frozen=True, slots=True)
class DashTrack:
    """One track of a DASH session: an AdaptationSet with one Representation."""

    track_number: int
    content_type: str  # "video" or "audio"
    codecs: str | None
    bandwidth: int
    width: int | None = None
    height: int | None = None
    frame_rate: float | None = None
    sample_rate: int | None = None
    channels: int | None = None

    @property
    def mime_type(self) -> str:
        return f"{self.content_type}/mp4"


def _frame_rate(rate: float) -> str:
    if abs(rate - round(rate)) < 0.005:
        return str(int(round(rate)))
    return f"{int(round(rate * 1000))}/1000"


def _timeline(entries: Sequence[PlaylistEntry], display_timestamp: bool, display_number: bool) -> str:
    parts: list[str] = []
    append = parts.append
    if display_timestamp or display_number:
        for e in entries:
            extra = ""
            if display_timestamp:
                extra += f' kvs:ts="{e.timestamp_ms}"'
            if display_number:
                extra += f' kvs:fn="{e.fragment_number}"'
            append(f'<S t="{e.media_time_ms}" d="{e.duration_ms}"{extra}/>')
        return "".join(parts)
    # Runs of equal, back-to-back durations fold into one S with a repeat count.
    i, n = 0, len(entries)
    while i < n:
        e = entries[i]
        j = i + 1
        end = e.media_time_ms + e.duration_ms
        while j < n and entries[j].duration_ms == e.duration_ms and entries[j].media_time_ms == end:
            end += e.duration_ms
            j += 1
        repeat = f' r="{j - i - 1}"' if j - i > 1 else ""
        append(f'<S t="{e.media_time_ms}" d="{e.duration_ms}"{repeat}/>')
        i = j
    return "".join(parts)


def dash_manifest(
    entries: Sequence[PlaylistEntry],
    token: str,
    tracks: Sequence[DashTrack],
    *,
    dynamic: bool,
    start_number: int = 0,
    presentation_time_offset_ms: int = 0,
    availability_start_ms: int = 0,
    publish_ms: int = 0,
    display_timestamp: bool = False,
    display_fragment_number: bool = False,
    min_update_period_s: int = 1,
) -> str:
    """An MPD with one Period, one AdaptationSet per track and a shared SegmentTimeline.

    Segments are addressed by their sequence number in the session
    (``$Number$``, starting at ``start_number`` for the first entry); the
    timeline's ``t`` values are ``entries[i].media_time_ms`` (timescale 1000),
    and ``presentation_time_offset_ms`` maps them to the Period's time 0.
    ``dynamic`` gives a live MPD (``type="dynamic"``), else a static one with
    its whole duration.
    """
    total_ms = sum(e.duration_ms for e in entries)
    kvs_ns = f' xmlns:kvs="{KVS_NAMESPACE}"' if (display_timestamp or display_fragment_number) else ""
    head = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"{kvs_ns} profiles="urn:mpeg:dash:profile:isoff-live:2011"',
    ]
    if dynamic:
        window = max(total_ms, 1000)
        head.append(
            f' type="dynamic" availabilityStartTime="{iso_timestamp(availability_start_ms)}"'
            f' publishTime="{iso_timestamp(publish_ms)}" minimumUpdatePeriod="PT{min_update_period_s}S"'
            f' timeShiftBufferDepth="{iso_duration(window)}" suggestedPresentationDelay="PT3S"'
            ' minBufferTime="PT2S">'
        )
    else:
        head.append(f' type="static" mediaPresentationDuration="{iso_duration(total_ms)}" minBufferTime="PT2S">')
    body = ['<Period id="0" start="PT0S">']
    timeline = _timeline(entries, display_timestamp, display_fragment_number)
    for i, track in enumerate(tracks):
        attrs = [f'id="{i}"', f'contentType="{track.content_type}"', f'mimeType="{track.mime_type}"']
        attrs.append('segmentAlignment="true"')
        if track.content_type == "video":
            attrs.append('startWithSAP="1"')
        body.append(f"<AdaptationSet {' '.join(attrs)}>")
        rep = [f'id="{track.track_number}"', f'bandwidth="{max(1, int(track.bandwidth))}"']
        if track.codecs:
            rep.append(f'codecs="{track.codecs}"')
        if track.width and track.height:
            rep += [f'width="{track.width}"', f'height="{track.height}"']
        if track.frame_rate:
            rep.append(f'frameRate="{_frame_rate(track.frame_rate)}"')
        if track.sample_rate:
            rep.append(f'audioSamplingRate="{track.sample_rate}"')
        body.append(f"<Representation {' '.join(rep)}>")
        if track.channels:
            body.append(
                '<AudioChannelConfiguration schemeIdUri="urn:mpeg:dash:23003:3:audio_channel_configuration:2011"'
                f' value="{track.channels}"/>'
            )
        init = quoteattr(f"{MP4_INIT}?SessionToken={token}&TrackNumber={track.track_number}")
        media = quoteattr(f"{MP4_MEDIA}?SessionToken={token}&TrackNumber={track.track_number}&SequenceNumber=$Number$")
        body.append(
            f'<SegmentTemplate timescale="1000" presentationTimeOffset="{presentation_time_offset_ms}"'
            f' startNumber="{start_number}" initialization={init} media={media}>'
        )
        body.append(f"<SegmentTimeline>{timeline}</SegmentTimeline>")
        body.append("</SegmentTemplate></Representation></AdaptationSet>")
    body.append("</Period></MPD>")
    return "".join(head) + "\n" + "\n".join(body) + "\n"
