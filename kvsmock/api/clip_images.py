"""Archived media as files: GetClip (an MP4 of a time range) and GetImages (JPEG/PNG stills).

GetClip
    Persisted fragments whose start (producer or server timestamp) lies in
    [StartTimestamp, EndTimestamp], at most 200 of them and 100 MB, from the
    start of the range; with producer timestamps a start time ingested twice
    counts once (the oldest ingested copy). The clip is one MP4 remuxed by
    :mod:`kvsmock.media.clip`, its timeline following the producer
    timestamps; it ends early where a later PutMedia session changed the
    tracks (one MP4 holds one set of tracks).

GetImages
    One instant every SamplingInterval from StartTimestamp to EndTimestamp
    (both inclusive), 25 a page (fewer with MaxResults). An instant inside a
    fragment's span [start, start + duration) gets the frame shown at or
    before it, decoded from the fragment's keyframe (each fragment once per
    page); an instant outside every fragment gets ``NO_MEDIA``, and one in a
    fragment without a usable video track, or that does not decode,
    ``MEDIA_ERROR``. With only one of WidthPixels/HeightPixels the other
    follows the frame's aspect ratio (what the HeightPixels documentation
    says; the WidthPixels text says ValidationException instead).

Both draw on the stream's fragment buckets (spec 5.3, :mod:`kvsmock.service.quotas`):
GetClip the number of fragments in the clip from each, GetImages 400 +
MaxResults metadata points and MaxResults media points.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
from typing import Any, Callable, Sequence

from .. import clock
from ..errors import (
    InvalidArgumentException,
    InvalidCodecPrivateDataException,
    InvalidMediaFrameException,
    MissingCodecPrivateDataException,
    NoDataRetentionException,
    ResourceNotFoundException,
    UnsupportedStreamMediaTypeException,
)
from ..media import clip as clip_media
from ..media.clip import ClipSource, check_clip_tracks, mkv_to_mp4
from ..media.images import ImageEncoder
from ..service.archive import mkv_header, same_tracks
from ..service.stills import fragment_stills
from ..service.backend import KinesisVideoService
from ..service.fragments import StoredFragment
from ..service.pagination import decode_token, encode_token
from ..service.quotas import charge_fragments
from ..service.streams import Stream
from .request import ApiRequest, ApiResponse

# GetClip
MAX_CLIP_FRAGMENTS = 200
MAX_CLIP_BYTES = 100 * 1024 * 1024
MAX_CLIP_RANGE_SECONDS = 24 * 3600
# GetImages
MAX_IMAGES_RANGE_SECONDS = 300
MIN_SAMPLING_INTERVAL_MS = 200
#: Used when a request leaves SamplingInterval out (the docs give no default; unverified).
DEFAULT_SAMPLING_INTERVAL_MS = 3000
IMAGES_PAGE_SIZE = 25
#: GetImages' fragment-metadata charge beyond MaxResults (spec 5.3).
IMAGES_METADATA_BASE = 400
DEFAULT_JPEG_QUALITY = 80
MAX_IMAGE_CONTENT_CHARS = 6_291_456
MAX_IMAGES_RESPONSE_BYTES = 100 * 1024 * 1024

NO_FRAGMENTS = "No fragments found in the stream for the streaming request."

_MEDIA_ERRORS = {
    clip_media.UnsupportedMediaType: UnsupportedStreamMediaTypeException,
    clip_media.MissingCodecPrivateData: MissingCodecPrivateDataException,
    clip_media.InvalidCodecPrivateData: InvalidCodecPrivateDataException,
    clip_media.InvalidMediaFrame: InvalidMediaFrameException,
}


def _require_retention(stream: Stream) -> None:
    if stream.data_retention_hours == 0:
        raise NoDataRetentionException(
            f"The stream {stream.name} does not retain data (DataRetentionInHours is 0)."
        )


def _cluster_of(fragment: StoredFragment) -> Callable[[], bytes]:
    return lambda: fragment.cluster


def _start(fragment: StoredFragment, producer: bool) -> float:
    return fragment.producer_timestamp if producer else fragment.server_timestamp


def _ordered(fragments: Sequence[StoredFragment], producer: bool) -> list[StoredFragment]:
    """Persisted fragments in timestamp order; with producer timestamps, one per start time
    (the first ingested, as the service uses the oldest-ingested copy of a range)."""
    kept: dict[float, StoredFragment] = {}
    chosen = []
    for f in fragments:
        if not f.persisted:
            continue
        if producer:
            other = kept.get(f.producer_timestamp)
            if other is None or f.number < other.number:
                kept[f.producer_timestamp] = f
        else:
            chosen.append(f)
    if producer:
        chosen = list(kept.values())
    chosen.sort(key=lambda f: (_start(f, producer), f.number))
    return chosen


# ---------------------------------------------------------------------- GetClip
def _clip_fragments(stream: Stream, producer: bool, start: float, end: float) -> list[StoredFragment]:
    """The fragments of the clip: in range, ordered, capped at 200 fragments / 100 MB,
    stopping where the tracks change (one MP4 holds one set of tracks)."""
    selected = _ordered(list(stream.store.in_range(start, end, producer)), producer)
    if not selected:
        raise ResourceNotFoundException(NO_FRAGMENTS)
    clip: list[StoredFragment] = []
    total = 0
    for f in selected:
        if len(clip) == MAX_CLIP_FRAGMENTS:
            break
        if clip and (total + f.size > MAX_CLIP_BYTES or not same_tracks(f.header, clip[0].header)):
            break
        clip.append(f)
        total += f.size
    return clip


def get_clip(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> ApiResponse:
    stream = backend.find_stream(params)
    _require_retention(stream)
    selector = params["ClipFragmentSelector"]
    producer = selector["FragmentSelectorType"] == "PRODUCER_TIMESTAMP"
    ts_range = selector["TimestampRange"]
    start, end = float(ts_range["StartTimestamp"]), float(ts_range["EndTimestamp"])
    if end <= start:
        raise InvalidArgumentException("EndTimestamp must be later than StartTimestamp.")
    if end - start > MAX_CLIP_RANGE_SECONDS:
        raise InvalidArgumentException("EndTimestamp must be within 24 hours of StartTimestamp.")
    if not producer and end > clock.now():
        raise InvalidArgumentException("EndTimestamp must be in the past for SERVER_TIMESTAMP.")

    fragments = _clip_fragments(stream, producer, start, end)
    # The fragments in the clip, against both fragment buckets (spec 5.3).
    charge_fragments(backend, stream, metadata=len(fragments), media=len(fragments), operation="GetClip")
    header = fragments[0].header
    try:
        tracks = check_clip_tracks(header.tracks)
        source = ClipSource(
            header=mkv_header(header),
            # Read (and decrypted) one at a time as the remux nears them.
            clusters=[_cluster_of(f) for f in fragments],
            sizes=[f.cluster_size for f in fragments],
            # The clip's timeline follows the producer's clock (frame times inside a fragment
            # are producer times), whichever timestamps selected the fragments.
            starts=[f.producer_timestamp for f in fragments],
            timecode_scale_ns=header.timecode_scale_ns,
            frames=sum(f.frame_count for f in fragments) or None,
        )
        mp4 = mkv_to_mp4(source, tracks)
    except clip_media.ClipMediaError as err:
        raise _MEDIA_ERRORS.get(type(err), InvalidMediaFrameException)(str(err)) from None
    stream.usage.consumed(len(mp4))  # billed as data consumed, like GetMedia
    return ApiResponse(200, {"Content-Type": "video/mp4", "x-amzn-RequestId": req.request_id}, mp4)


# ---------------------------------------------------------------------- GetImages
def _quality(params: dict[str, Any]) -> int:
    config = params.get("FormatConfig") or {}
    for key in config:
        if key != "JPEGQuality":
            raise InvalidArgumentException(f"FormatConfig key {key!r} is not supported; the only key is JPEGQuality.")
    raw = config.get("JPEGQuality")
    if raw is None:
        return DEFAULT_JPEG_QUALITY
    text = str(raw).strip()
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise InvalidArgumentException(f"JPEGQuality must be an integer from 1 to 100, not {raw!r}.")
    return int(text)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _images_for(fragment: StoredFragment, start_ms: int, times_ms: list[int], encoder: ImageEncoder,
                width: int | None, height: int | None) -> list[str | None]:
    """Base64 images of ``fragment`` (starting at ``start_ms``) at ``times_ms`` (None where no image could be made)."""
    stills = fragment_stills(fragment, start_ms, times_ms, encoder, width, height)
    return [base64.b64encode(image).decode() if image is not None else None for image in stills]


def _covering(fragments: list[StoredFragment], starts_ms: list[int], t_ms: int) -> StoredFragment | None:
    """The fragment whose span [start, start + duration) holds ``t_ms`` (the latest starting one)."""
    i = bisect.bisect_right(starts_ms, t_ms) - 1
    if i < 0:
        return None
    if t_ms == starts_ms[i] or t_ms < starts_ms[i] + fragments[i].duration_ms:
        return fragments[i]
    return None


def get_images(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> dict[str, Any]:
    stream = backend.find_stream(params)
    _require_retention(stream)
    producer = params["ImageSelectorType"] == "PRODUCER_TIMESTAMP"
    start_ms, end_ms = _ms(float(params["StartTimestamp"])), _ms(float(params["EndTimestamp"]))
    if end_ms < start_ms:
        raise InvalidArgumentException("EndTimestamp must not be earlier than StartTimestamp.")
    if end_ms - start_ms > MAX_IMAGES_RANGE_SECONDS * 1000:
        raise InvalidArgumentException(
            f"The time range between StartTimestamp and EndTimestamp must not exceed {MAX_IMAGES_RANGE_SECONDS} seconds."
        )
    interval = int(params.get("SamplingInterval", DEFAULT_SAMPLING_INTERVAL_MS))
    if interval < MIN_SAMPLING_INTERVAL_MS:
        raise InvalidArgumentException(
            f"SamplingInterval must be at least {MIN_SAMPLING_INTERVAL_MS} milliseconds, not {interval}."
        )
    image_format = params["Format"]
    quality = _quality(params)
    width, height = params.get("WidthPixels"), params.get("HeightPixels")
    max_results = int(params.get("MaxResults", IMAGES_PAGE_SIZE))
    page_size = min(max_results, IMAGES_PAGE_SIZE)

    # One instant every SamplingInterval from StartTimestamp; a range shorter than the interval gives one.
    times = range(start_ms, end_ms + 1, interval)
    fingerprint = hashlib.sha256(f"{stream.arn}|{producer}|{start_ms}|{end_ms}|{interval}".encode()).hexdigest()[:12]
    first = 0
    token = params.get("NextToken")
    if token:
        position, _, mark = decode_token(token, "images").partition(".")
        if mark != fingerprint or not position.isdigit() or int(position) >= len(times):
            raise InvalidArgumentException(f"The NextToken '{token}' is not valid for this request.")
        first = int(position)
    page = list(times[first : first + page_size])
    # 400 + MaxResults fragment-metadata points and MaxResults fragment-media points (spec 5.3).
    charge_fragments(backend, stream, metadata=IMAGES_METADATA_BASE + max_results, media=max_results,
                     operation="GetImages")

    fragments = _ordered(stream.store.snapshot(), producer)
    starts_ms = [_ms(_start(f, producer)) for f in fragments]
    # Instants grouped by the fragment holding them: each fragment is decoded once.
    groups: dict[str, tuple[StoredFragment, list[int]]] = {}
    for i, t in enumerate(page):
        f = _covering(fragments, starts_ms, t)
        if f is not None:
            groups.setdefault(f.number, (f, []))[1].append(i)

    encoder = ImageEncoder(image_format, quality)
    contents: list[str | None] = [None] * len(page)
    in_media: set[int] = set()
    for f, indexes in groups.values():
        in_media.update(indexes)
        made = _images_for(f, _ms(_start(f, producer)), [page[i] for i in indexes], encoder, width, height)
        for i, content in zip(indexes, made):
            contents[i] = content

    images: list[dict[str, Any]] = []
    size = 0
    for i, t in enumerate(page):
        entry: dict[str, Any] = {"TimeStamp": t / 1000}
        content = contents[i]
        if content is None:
            entry["Error"] = "MEDIA_ERROR" if i in in_media else "NO_MEDIA"
        elif len(content) > MAX_IMAGE_CONTENT_CHARS:
            entry["Error"] = "MEDIA_ERROR"
        else:
            if images and size + len(content) > MAX_IMAGES_RESPONSE_BYTES:
                break  # the rest of the page comes with the NextToken
            entry["ImageContent"] = content
            size += len(content)
        images.append(entry)
    out: dict[str, Any] = {"Images": images}
    following = first + len(images)
    if following < len(times):
        out["NextToken"] = encode_token(f"{following}.{fingerprint}", "images")
    return out


