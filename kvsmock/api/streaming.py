"""HLS and DASH: the session-URL calls and the resources served under a session URL.

``GetHLSStreamingSessionURL`` / ``GetDASHStreamingSessionURL`` are ordinary
POST operations of kinesis-video-archived-media. The URLs they return point
at the data endpoint (in-process a moto-style ``b-…`` host that moto's
``requests`` interception brings back here; in the server, the server's own
base URL) and every resource below them is a GET with the ``SessionToken``
in the query string:

=========================================  ==============================
``/hls/v1/getHLSMasterPlaylist.m3u8``      master playlist
``/hls/v1/getHLSMediaPlaylist.m3u8``       media playlist (``TrackNumber``)
``/hls/v1/getMP4InitFragment.mp4``         init segment (``TrackNumber``, ``SequenceNumber``)
``/hls/v1/getMP4MediaFragment.mp4``        media segment (``FragmentNumber``, ``TrackNumber``)
``/hls/v1/getTSFragment.ts``               MPEG-TS segment (``FragmentNumber``)
``/dash/v1/getDASHManifest.mpd``           MPD
``/dash/v1/getMP4InitFragment.mp4``        init segment (``TrackNumber``)
``/dash/v1/getMP4MediaFragment.mp4``       media segment (``TrackNumber``, ``SequenceNumber`` = ``$Number$``)
=========================================  ==============================

Content types (the service's are unverified): ``application/vnd.apple.mpegurl``,
``video/mp4`` (``audio/mp4`` for an audio track), ``video/MP2T``,
``application/dash+xml``.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import clock
from ..errors import (
    InvalidArgumentException,
    InvalidCodecPrivateDataException,
    InvalidMediaFrameException,
    NotAuthorizedException,
    ResourceNotFoundException,
)
from ..media.codecs import codec_string
from ..media.matroska.clusters import cluster_timecode
from ..media.playlists import DashTrack, dash_manifest, hls_master_playlist, hls_media_playlist
from ..media.segments import Fmp4Segment, SegmentError, fmp4_segment, ts_segment
from ..service.archive import as_mkv, same_tracks
from ..service.backend import KinesisVideoService
from ..service.fragments import StoredFragment
from ..service.playback.codecs import G711, check_codecs
from ..service.playback.creation import new_session
from ..service.playback.options import DASH, HLS, MEDIA_SEGMENT_RESOURCES, METADATA_RESOURCES, MPEG_TS, ON_DEMAND
from ..service.playback.session import StreamingSession, TrackDescription
from ..service.playback.timing import segment_shift
from ..service.playback.tokens import token_scope
from ..service.quotas import charge_fragments
from ..service.streams import Stream
from .endpoints import data_endpoint
from .request import ApiRequest, ApiResponse, BackendLookup

HLS_PREFIX = "/hls/v1/"
DASH_PREFIX = "/dash/v1/"

M3U8 = "application/vnd.apple.mpegurl"
MPD = "application/dash+xml"
MP2T = "video/MP2T"


# ---------------------------------------------------------------- the POSTs
def get_hls_streaming_session_url(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    session = _new_session(HLS, backend, params)
    base = data_endpoint(req, session.stream.endpoint_id, backend.region_name, "GET_HLS_STREAMING_SESSION_URL")
    return {"HLSStreamingSessionURL": f"{base}{HLS_PREFIX}getHLSMasterPlaylist.m3u8?SessionToken={session.token}"}


def get_dash_streaming_session_url(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    session = _new_session(DASH, backend, params)
    base = data_endpoint(req, session.stream.endpoint_id, backend.region_name, "GET_DASH_STREAMING_SESSION_URL")
    return {"DASHStreamingSessionURL": f"{base}{DASH_PREFIX}getDASHManifest.mpd?SessionToken={session.token}"}


def _new_session(protocol: str, backend: KinesisVideoService, params: dict[str, Any]) -> StreamingSession:
    stream = backend.find_stream(params)
    backend.sessions.admit(stream)
    session = new_session(protocol, stream, backend.account_id, backend.region_name, params, backend.segments)
    backend.sessions.add(session)
    return session


# ------------------------------------------------------------ the GET routes
Resource = Callable[[StreamingSession, dict[str, str]], ApiResponse]


def _route(protocol: str, quota: str, serve: Resource) -> Callable[[BackendLookup, ApiRequest], ApiResponse]:
    def route(backend_for: BackendLookup, req: ApiRequest) -> ApiResponse:
        if req.method not in ("GET", "HEAD"):
            raise InvalidArgumentException(f"{req.path} answers GET (and HEAD) only.")
        query = req.query
        token = query.get("SessionToken")
        if not token:
            raise InvalidArgumentException("The SessionToken query parameter is required.")
        scope = token_scope(token)
        if scope is None:
            raise NotAuthorizedException("The session token is not valid for any streaming session.")
        backend = backend_for(*scope)
        session = backend.sessions.get(token)
        if session.protocol != protocol:
            raise NotAuthorizedException(f"The session token is not valid for {protocol} resources.")

        def lookup(account_id: str, region: str, name: str) -> Stream | None:
            return backend_for(account_id, region).streams.get(name)

        session.check_open(lookup)
        session.throttle(quota)  # per session: playlists, manifests, init segments
        if quota in METADATA_RESOURCES:  # per stream: the fragment buckets (spec 5.3)
            charge_fragments(backend, session.stream, metadata=session.max_results, operation=_OPERATIONS[quota])
        elif quota in MEDIA_SEGMENT_RESOURCES:
            charge_fragments(backend, session.stream, media=1, operation=_OPERATIONS[quota])
        response = serve(session, query)
        if serve in _MEDIA_RESOURCES and isinstance(response.body, (bytes, bytearray)):
            session.stream.usage.consumed_hls_dash(len(response.body))  # billed as HLS/DASH data consumed
        response.headers["x-amzn-RequestId"] = req.request_id
        return response  # HEAD gets the same answer; the HTTP layer drops the body

    return route


#: What the fragment-bucket errors call each charged resource.
_OPERATIONS = {
    "media_playlist": "GetHLSMediaPlaylist",
    "manifest": "GetDASHManifest",
    "mp4_media": "GetMP4MediaFragment",
    "ts": "GetTSFragment",
}


def _ok(content_type: str, body: bytes | str) -> ApiResponse:
    data = body.encode() if isinstance(body, str) else body
    return ApiResponse(200, {"Content-Type": content_type}, data)


def _int_param(query: dict[str, str], name: str, default: int | None = None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InvalidArgumentException(f"The {name} query parameter is required.")
        return default
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidArgumentException(f"The {name} query parameter must be a non-negative integer, not {raw!r}.")
    return int(raw)


def _fragment_number(query: dict[str, str]) -> str:
    number = query.get("FragmentNumber")
    if not number:
        raise InvalidArgumentException("The FragmentNumber query parameter is required.")
    if not number.isdigit() or len(number) > 128:
        raise InvalidArgumentException(f"The FragmentNumber {number!r} is not a fragment number.")
    return number


def _media_track(session: StreamingSession, query: dict[str, str]) -> TrackDescription:
    track = session.track(_int_param(query, "TrackNumber", 1))
    if session.protocol == DASH and track.info.codec_id == G711:
        raise InvalidArgumentException("kvsmock cannot package G.711 audio as fMP4; only the video track is served.")
    return track


# ------------------------------------------------------------------ segments
def _fmp4(session: StreamingSession, fragment: StoredFragment, track: TrackDescription, media_time_ms: int) -> Fmp4Segment:

    def make() -> Fmp4Segment:
        shift = segment_shift(fragment, media_time_ms, cluster_timecode(fragment.cluster))
        try:
            return fmp4_segment(as_mkv([fragment]), track.index, shift)
        except SegmentError as err:
            raise InvalidMediaFrameException(f"The fragment {fragment.number} could not be packaged: {err}") from None

    return session.segments.get_or_make(fragment, ("fmp4", track.index, media_time_ms), make)


def _mp4_type(track: TrackDescription) -> str:
    return "video/mp4" if track.is_video else "audio/mp4"


def _check_readable(session: StreamingSession, fragment: StoredFragment) -> None:
    """Served only while stored and while the stream's KMS key is usable (cached segments included)."""
    stream = session.stream
    if stream.store.by_number(fragment.number) is None:
        raise ResourceNotFoundException(
            f"The fragment {fragment.number} is no longer stored (its retention period has ended)."
        )
    stream.keys.check()


def _check_fragment_codecs(session: StreamingSession, fragment: StoredFragment) -> None:
    """A fragment whose tracks the session cannot serve fails when it is loaded."""
    check_codecs(fragment.header, session.protocol, session.container)
    if session.protocol == DASH and session.header is not None and not same_tracks(session.header, fragment.header):
        raise InvalidCodecPrivateDataException(
            f"The codec private data of fragment {fragment.number} differs from the session's; "
            "it must not change within a DASH session."
        )


def serve_init(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    if session.container == MPEG_TS:
        raise InvalidArgumentException("MPEG_TS sessions serve getTSFragment.ts, not MP4 fragments.")
    track = _media_track(session, query)
    sequence = _int_param(query, "SequenceNumber", 0) if session.protocol == HLS else 0
    fragment = session.init_fragment(sequence)
    _check_readable(session, fragment)
    segment = _fmp4(session, fragment, track, session.media_time_ms(fragment))
    return _ok(_mp4_type(track), segment.init)


def serve_mp4_media(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    if session.container == MPEG_TS:
        raise InvalidArgumentException("MPEG_TS sessions serve getTSFragment.ts, not MP4 fragments.")
    track = _media_track(session, query)
    if session.protocol == DASH and "FragmentNumber" not in query:
        sequence = _int_param(query, "SequenceNumber")
        entry = session.entry_for_sequence(sequence)
        if entry is None:
            raise ResourceNotFoundException(f"The streaming session has no fragment with sequence number {sequence}.")
        fragment = entry.fragment
    else:
        fragment = session.fragment_in_session(_fragment_number(query))
    _check_readable(session, fragment)
    _check_fragment_codecs(session, fragment)
    segment = _fmp4(session, fragment, track, session.media_time_ms(fragment))
    if not segment.media:
        raise ResourceNotFoundException(f"The fragment {fragment.number} holds no media for track {track.number}.")
    return _ok(_mp4_type(track), segment.media)


def serve_ts(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    if session.container != MPEG_TS:
        raise InvalidArgumentException("getTSFragment.ts is served for MPEG_TS sessions only.")
    fragment = session.fragment_in_session(_fragment_number(query))
    _check_readable(session, fragment)
    _check_fragment_codecs(session, fragment)
    media_time_ms = session.media_time_ms(fragment)

    def make() -> bytes:
        shift = segment_shift(fragment, media_time_ms, cluster_timecode(fragment.cluster))
        try:
            return ts_segment(as_mkv([fragment]), shift)
        except SegmentError as err:
            raise InvalidMediaFrameException(f"The fragment {fragment.number} could not be packaged: {err}") from None

    return _ok(MP2T, session.segments.get_or_make(fragment, ("ts", media_time_ms), make))


# ----------------------------------------------------------------- playlists
_MEDIA_RESOURCES: tuple[Resource, ...] = (serve_init, serve_mp4_media, serve_ts)


def _bandwidth(fragment: StoredFragment | None) -> int:
    if fragment is None or fragment.duration_ms <= 0:
        return 1_000_000
    return int(fragment.size * 8 * 1000 / fragment.duration_ms)


def _frame_rate(session: StreamingSession, track: TrackDescription) -> float | None:
    if track.info.default_duration:
        return 1e9 / track.info.default_duration
    sample = session.sample_fragment
    if sample is not None and len(session.tracks()) == 1 and sample.duration_ms > 0 and sample.frame_count:
        return sample.frame_count * 1000 / sample.duration_ms
    return None


def serve_master(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    tracks = session.tracks()
    video = next((t for t in tracks if t.is_video), None)
    audio = next((t for t in tracks if t.is_aac), None)
    codecs = [c for c in (codec_string(t.info.codec_id, t.info.codec_private) for t in tracks) if c]
    resolution = (video.info.width, video.info.height) if video and video.info.width and video.info.height else None
    text = hls_master_playlist(
        session.token,
        codecs=codecs,
        bandwidth=_bandwidth(session.sample_fragment),
        resolution=resolution,
        frame_rate=_frame_rate(session, video) if video else None,
        video_track=video.number if video else None,
        audio_track=audio.number if audio else None,
        muxed=session.container == MPEG_TS,
    )
    return _ok(M3U8, text)


def serve_media_playlist(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    mpeg_ts = session.container == MPEG_TS
    track_number = 1 if mpeg_ts else _media_track(session, query).number
    session.stream.store.expire()
    key = ("media_playlist", track_number, session.stream.store.removals)  # expiry makes it stale
    text = session.rendered.get(key)
    if text is None:
        window = session.window()
        text = hls_media_playlist(
            window.entries,
            session.token,
            track_number=track_number,
            mpeg_ts=mpeg_ts,
            media_sequence=window.media_sequence,
            discontinuity_sequence=window.discontinuity_sequence,
            vod=session.mode == ON_DEMAND,
            ended=window.ended,
            program_date_time=session.display_timestamp,
            trailing_discontinuity=session.discontinuity_mode == "ALWAYS",
        )
        if session.mode == ON_DEMAND:
            session.rendered[key] = text  # a VOD playlist never changes
    return _ok(M3U8, text)


def _dash_tracks(session: StreamingSession) -> list[DashTrack]:
    out = []
    bandwidth = _bandwidth(session.sample_fragment)
    for track in session.tracks():
        info = track.info
        if track.is_video:
            out.append(
                DashTrack(
                    track.number,
                    "video",
                    codec_string(info.codec_id, info.codec_private),
                    bandwidth,
                    width=info.width,
                    height=info.height,
                    frame_rate=_frame_rate(session, track),
                )
            )
        elif track.is_aac:
            out.append(
                DashTrack(
                    track.number,
                    "audio",
                    codec_string(info.codec_id, info.codec_private),
                    128_000,
                    sample_rate=int(info.sampling_rate) if info.sampling_rate else None,
                    channels=info.channels,
                )
            )
        # G.711 (A_MS/ACM) has no fMP4 mapping in FFmpeg's mp4 muxer: left out of the MPD.
    return out


def serve_manifest(session: StreamingSession, query: dict[str, str]) -> ApiResponse:
    window = session.window()
    dynamic = session.mode != ON_DEMAND and not window.ended
    first_ms = window.entries[0].media_time_ms if window.entries else window.anchor_media_ms
    text = dash_manifest(
        window.entries,
        session.token,
        _dash_tracks(session),
        dynamic=dynamic,
        start_number=window.media_sequence,
        presentation_time_offset_ms=window.anchor_media_ms if dynamic else first_ms,
        availability_start_ms=window.anchor_wallclock_ms,
        publish_ms=int(clock.now() * 1000),
        display_timestamp=session.display_timestamp,
        display_fragment_number=session.display_fragment_number,
    )
    return _ok(MPD, text)


#: The GET resources under a session URL, by path.
RESOURCES = {
    HLS_PREFIX + "getHLSMasterPlaylist.m3u8": _route(HLS, "master", serve_master),
    HLS_PREFIX + "getHLSMediaPlaylist.m3u8": _route(HLS, "media_playlist", serve_media_playlist),
    HLS_PREFIX + "getMP4InitFragment.mp4": _route(HLS, "init", serve_init),
    HLS_PREFIX + "getMP4MediaFragment.mp4": _route(HLS, "mp4_media", serve_mp4_media),
    HLS_PREFIX + "getTSFragment.ts": _route(HLS, "ts", serve_ts),
    DASH_PREFIX + "getDASHManifest.mpd": _route(DASH, "manifest", serve_manifest),
    DASH_PREFIX + "getMP4InitFragment.mp4": _route(DASH, "init", serve_init),
    DASH_PREFIX + "getMP4MediaFragment.mp4": _route(DASH, "mp4_media", serve_mp4_media),
}
