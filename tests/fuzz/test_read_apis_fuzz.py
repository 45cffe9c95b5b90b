"""Fuzz the read APIs with mutated real uploads.

Each example takes a real PutMedia body (``kvsmock.sample_mkv`` output with
1-second fragments, or one of the committed ``fixtures/*.mkv``), mutates it,
uploads it in chunks cut at arbitrary points, and then calls every read API
on what was stored: ListFragments (all pages), GetMediaForFragmentList (every
listed fragment), GetMedia (EARLIEST, read to its end), GetClip and GetImages
(JPEG) over the whole range, HLS ON_DEMAND in fMP4 and MPEG-TS (master
playlist, media playlists, init segment, every media segment) and DASH
ON_DEMAND (the MPD, its init and media segments); SERVER_TIMESTAMP or
PRODUCER_TIMESTAMP ranges.

Mutations: byte flips anywhere or aimed at a frame's payload, a SimpleBlock
header, a Cluster Timecode, a TrackEntry value (codec ID, codec private
data...), the header; truncation; inserted (random or EBML-looking), deleted
and duplicated spans; whole fragments dropped, repeated or swapped. Either
only after the first N fragments (a known-valid prefix) or anywhere.

What must hold:

- no 5xx: every HTTP response, and every boto3 ``ClientError``, has a status
  below 500 (a 4xx such as ResourceNotFoundException is a fine answer for a
  stream that holds nothing); PutMedia never ACKs an internal error (5000+);
- no hang: every call runs under a socket timeout and a watched wall-clock
  budget;
- the intact prefix is stored byte-identical: every fragment whose bytes, and
  all bytes before them, are untouched (or changed only inside frame
  payloads, which leaves the MKV the same) got a PERSISTED ACK with its
  timecode, is listed, and reads back through GetMediaForFragmentList and
  GetMedia with the same frames (track, timecode, key flag and bytes) as the
  unmutated upload's fragment at that position, payload flips included.

The CI variants run a fixed, derandomized number of examples (a failure
reproduces run after run); the ``slow`` variants (``pytest -m slow
tests/fuzz``) run 1000 examples each with fresh randomness. A failure names
the source, the concrete mutation (replay it with :func:`apply_ops`), the
chunk cuts (:func:`pieces`), and the calls made with their answers.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import count
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urljoin

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kvsmock
from helpers.quotas import no_quotas  # noqa: F401  (the fixture, used by pytestmark)
from kvsmock.media import EBMLError

#: Every read API, many times a second on one stream: more than the service's quotas allow
#: (GetDataEndpoint 5 a second, the fragment buckets); they are not what this fuzzes.
pytestmark = pytest.mark.usefixtures("no_quotas")

START = 1_700_000_000  # producer start (epoch seconds) of every upload
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
CLUSTER_ID = b"\x1f\x43\xb6\x75"
REGION = "us-east-1"

SOCKET_TIMEOUT = 20.0  # seconds a single socket read may wait
CALL_BUDGET = 30.0  # seconds one API call (its whole body included) may take
IMAGES_MAX_PAGES = 3
SETTLE = 60  # seconds the emulator clock moves on after each upload (retention is 1 hour)
NO_RETRIES = Config(
    connect_timeout=5,
    read_timeout=SOCKET_TIMEOUT,
    retries={"max_attempts": 0},
    parameter_validation=False,  # the service's own checks are under test
)


# ------------------------------------------------------------------ sources
@dataclass(frozen=True)
class Source:
    """A real PutMedia body and how to upload it."""

    name: str
    data: bytes = field(repr=False)
    timecode_type: str  # ABSOLUTE or RELATIVE
    cluster_offsets: tuple[int, ...]  # where each Cluster (fragment) starts
    #: (offset, length) of every frame's payload in ``data``, per fragment, in stream order
    frame_spans: tuple[tuple[tuple[int, int], ...], ...] = field(repr=False)
    #: (offset, length) of each Cluster's Timecode value
    timecode_spans: tuple[tuple[int, int], ...] = field(repr=False)
    #: (element ID, offset, length) of each value in the Tracks' TrackEntry elements (codec ID and
    #: private data, track number and type, picture size, sampling rate...)
    track_fields: tuple[tuple[int, int, int], ...] = field(repr=False)

    @property
    def fragments(self) -> int:
        return len(self.cluster_offsets)

    @property
    def all_spans(self) -> list[tuple[int, int]]:
        return [span for fragment in self.frame_spans for span in fragment]

    def fragment_end(self, i: int) -> int:
        """Where fragment ``i``'s bytes (its Cluster and the producer Tags after it) end."""
        return self.cluster_offsets[i + 1] if i + 1 < self.fragments else len(self.data)


def _cluster_offsets(data: bytes) -> tuple[int, ...]:
    offsets, i = [], data.find(CLUSTER_ID)
    while i >= 0:
        offsets.append(i)
        i = data.find(CLUSTER_ID, i + 1)
    return tuple(offsets)


_MASTERS = {0x18538067, 0x1654AE6B, 0xAE, 0xE0, 0xE1}  # Segment, Tracks, TrackEntry, Video, Audio
CODEC_PRIVATE = 0x63A2


def _vint(data: bytes, pos: int, keep_marker: bool) -> tuple[int, int]:
    """An EBML VINT at ``pos``: (value, length); element IDs keep their length marker."""
    first = data[pos]
    length = 9 - first.bit_length()
    value = first if keep_marker else first & (0xFF >> length)
    for byte in data[pos + 1 : pos + length]:
        value = (value << 8) | byte
    return value, length


def _track_fields(data: bytes, end: int) -> tuple[tuple[int, int, int], ...]:
    """The TrackEntry values of the header (the bytes before ``end``, the first Cluster)."""
    out = []

    def walk(pos: int, stop: int, in_track: bool) -> None:
        while pos < stop:
            element, n = _vint(data, pos, True)
            size, m = _vint(data, pos + n, False)
            body = pos + n + m
            unknown = size == (1 << (7 * m)) - 1
            if element in _MASTERS:
                walk(body, stop if unknown else min(stop, body + size), in_track or element == 0xAE)
                if unknown:
                    return
            elif in_track and size:
                out.append((element, body, size))
            pos = body + size

    walk(0, end, False)
    return tuple(out)


def _source(name: str, data: bytes) -> Source:
    offsets = _cluster_offsets(data)
    assert offsets, name
    timecodes = []
    for offset in offsets:
        at = offset + 4 + (9 - data[offset + 4].bit_length())  # past the Cluster's ID and size VINT
        assert data[at] == 0xE7, (name, offset)  # the Cluster's first child is its Timecode
        timecodes.append((at + 2, data[at + 1] & 0x7F))
    # Frame payloads located in the body (kvsmock's reader parses a plain MKV file cluster by cluster).
    spans, cursor = [], 0
    for fragment in kvsmock.read_fragments(data):
        mine = []
        for frame in fragment.frames:
            cursor = data.index(frame.data, cursor)
            mine.append((cursor, len(frame.data)))
            cursor += len(frame.data)
        spans.append(tuple(mine))
    assert len(spans) == len(offsets), (name, len(spans), len(offsets))
    # Absolute timecodes are epoch milliseconds; the relative ones count from 0.
    first = int.from_bytes(data[timecodes[0][0] : timecodes[0][0] + timecodes[0][1]], "big")
    kind = "ABSOLUTE" if first > 10**11 else "RELATIVE"
    fields = _track_fields(data, offsets[0])
    assert any(element == CODEC_PRIVATE for element, _, _ in fields), name
    return Source(name, data, kind, offsets, tuple(spans), tuple(timecodes), fields)


_BUILDERS: dict[str, Callable[[], bytes]] = {
    "sample_h264": lambda: kvsmock.sample_mkv(duration_s=4, fragment_s=1, start=START),
    "sample_h264_aac": lambda: kvsmock.sample_mkv(duration_s=3, fragment_s=1, audio=True, start=START),
    "sample_h265": lambda: kvsmock.sample_mkv(duration_s=3, fragment_s=1, codec="h265", start=START),
}
for _path in sorted(FIXTURES.glob("*.mkv")):
    _BUILDERS[_path.name] = _path.read_bytes
SOURCE_NAMES = sorted(_BUILDERS)


@lru_cache(maxsize=None)
def source(name: str) -> Source:
    return _source(name, _BUILDERS[name]())


# ---------------------------------------------------------------- mutations
# One operation, resolved to concrete offsets: replayable with apply_ops().
#   ("flip", at, mask)       data[at] ^= mask
#   ("truncate", at)         data[:at]
#   ("insert", at, bytes)    bytes inserted before data[at]
#   ("delete", at, n)        data[at:at+n] removed
#   ("duplicate", at, n)     data[at:at+n] repeated right after itself
#   ("move", at, n, to)      data[at:at+n] moved to just before data[to] (to <= at)
Op = tuple


def first_changed(op: Op) -> int | None:
    """The first offset a length-changing op alters (None for a flip)."""
    kind = op[0]
    if kind == "flip":
        return None
    if kind == "duplicate":
        return op[1] + op[2]
    if kind == "move":
        return min(op[1], op[3])
    return op[1]


def apply_ops(data: bytes, ops: list[Op]) -> bytes:
    """Replay a resolved mutation (what a failure message prints)."""
    out = bytearray(data)
    for op in ops:
        kind, at = op[0], op[1]
        if kind == "flip":
            out[at] ^= op[2]
        elif kind == "truncate":
            del out[at:]
        elif kind == "insert":
            out[at:at] = op[2]
        elif kind == "delete":
            del out[at : at + op[2]]
        elif kind == "duplicate":
            out[at + op[2] : at + op[2]] = out[at : at + op[2]]
        elif kind == "move":
            span = out[at : at + op[2]]
            del out[at : at + op[2]]
            out[op[3] : op[3]] = span
        else:
            raise ValueError(op)
    return bytes(out)


# Raw edits: (kind, position seed, size seed, payload); resolved against the data by resolve().
# A position seed is scaled onto the span it may fall in, so positions spread over the whole body.
POSITION = st.integers(0, 2**16 - 1)
_INSERTS = st.one_of(
    st.binary(min_size=1, max_size=16),
    # EBML-looking bytes: IDs of the elements a body is made of, with odd, huge or unknown sizes
    st.sampled_from(
        [
            CLUSTER_ID + b"\x01\xff\xff\xff\xff\xff\xff\xff",  # an unknown-size Cluster
            CLUSTER_ID + b"\x88",  # a Cluster cut short
            b"\xe7\x81\x00",  # Cluster Timecode 0
            b"\xe7\x88\xff\xff\xff\xff\xff\xff\xff\xff",  # Cluster Timecode 2**64-1
            b"\xa3\x85\x81\x00\x00\x80\x00",  # a 1-byte keyframe SimpleBlock for track 1
            b"\xa3\x84\x85\x00\x00\x80",  # an empty SimpleBlock for undeclared track 5
            b"\xa3\x84\x81\x80\x00\x80",  # a SimpleBlock 32768 ms before its Cluster
            b"\x12\x54\xc3\x67\x80",  # empty Tags
            b"\x1a\x45\xdf\xa3\x80",  # a second EBML header
            b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff",  # a second Segment
            b"\xec\x80",  # Void
            b"\x01\x00\x00\x00\x00\x00\x00\x00\x00",  # an invalid vint
        ]
    ),
)
_EDIT = st.one_of(
    st.tuples(st.just("flip"), POSITION, st.integers(1, 255), st.just(b"")),
    st.tuples(st.just("truncate"), POSITION, st.just(0), st.just(b"")),
    st.tuples(st.just("insert"), POSITION, st.just(0), _INSERTS),
    st.tuples(st.just("delete"), POSITION, st.integers(1, 4096), st.just(b"")),
    st.tuples(st.just("duplicate"), POSITION, st.integers(1, 8192), st.just(b"")),
)
# A flip aimed at a part of the body: (target, seed, offset seed, mask), on the original body.
#   payload   a frame's payload: still valid MKV, the fragment is stored with the flipped frame,
#             which decoders (GetImages, GetClip, HLS, DASH) then meet
#   block     the 4 bytes before a payload: the SimpleBlock's track, relative timecode and flags
#   timecode  a Cluster's Timecode value: fragments out of order, overlapping, far apart
#   track     a value in a TrackEntry: codec ID, codec private data, track number, picture size...
#   codec_private   the codec private data (H.264/H.265 parameter sets, AAC config) itself
#   header    anywhere in the EBML header, Segment Info and Tracks before the first Cluster
_TARGETED_FLIP = st.tuples(
    st.sampled_from(["payload", "block", "timecode", "track", "codec_private", "header"]),
    st.integers(0, 2**16 - 1),
    st.integers(0, 2**16 - 1),
    st.integers(1, 255),
)
_PAYLOAD_FLIP = st.tuples(
    st.just("payload"), st.integers(0, 2**16 - 1), st.integers(0, 2**16 - 1), st.integers(1, 255)
)
# A whole fragment (its Cluster and the Tags after it) dropped, repeated, or swapped with the next one.
_FRAGMENT_EDIT = st.tuples(st.sampled_from(["drop", "repeat", "swap"]), st.integers(0, 2**16 - 1))


def _scaled(seed: int, lo: int, hi: int) -> int:
    """A position in [lo, hi] from a 16-bit seed."""
    return lo + (seed * (hi - lo + 1) >> 16)


def resolve(src: Source, flips, fragment_edits, edits, lo: int) -> list[Op]:
    """Concrete operations for the raw edits, every one at or after offset ``lo``.

    Targeted flips and whole-fragment edits come first (on the original body, where its parts
    are known), then the edits.
    """
    ops: list[Op] = []
    targets = {
        "payload": [span for span in src.all_spans if span[0] >= lo],
        "block": [(offset - 4, 4) for offset, _ in src.all_spans if offset - 4 >= lo],
        "timecode": [span for span in src.timecode_spans if span[0] >= lo],
        "track": [(offset, n) for _, offset, n in src.track_fields] if lo == 0 else [],
        "codec_private": [(o, n) for e, o, n in src.track_fields if e == CODEC_PRIVATE] if lo == 0 else [],
        "header": [(0, src.cluster_offsets[0])] if lo == 0 else [],
    }
    for target, seed, offset_seed, mask in flips:
        spans = targets[target]
        if spans:
            offset, length = spans[_scaled(seed, 0, len(spans) - 1)]
            ops.append(("flip", _scaled(offset_seed, offset, offset + length - 1), mask))
    first = bisect_left(src.cluster_offsets, lo)  # the first fragment that may change
    for kind, seed in fragment_edits[:1]:  # one: it is resolved on the original offsets
        last = src.fragments - (2 if kind == "swap" else 1)
        if last < first:
            continue
        i = _scaled(seed, first, last)
        at, n = src.cluster_offsets[i], src.fragment_end(i) - src.cluster_offsets[i]
        if kind == "drop":
            ops.append(("delete", at, n))
        elif kind == "repeat":
            ops.append(("duplicate", at, n))
        else:  # swap with the next fragment
            following = src.cluster_offsets[i + 1]
            ops.append(("move", following, src.fragment_end(i + 1) - following, at))
    current = len(src.data) + sum(op[2] for op in ops if op[0] == "duplicate")
    current -= sum(op[2] for op in ops if op[0] == "delete")
    for kind, seed, size, payload in edits:
        if kind in ("insert", "truncate"):
            at = _scaled(seed, lo, current)
        elif current > lo:
            at = _scaled(seed, lo, current - 1)
        else:
            continue
        if kind == "flip":
            ops.append(("flip", at, size))
        elif kind == "truncate":
            ops.append(("truncate", at))
            current = at
        elif kind == "insert":
            ops.append(("insert", at, payload))
            current += len(payload)
        elif kind == "delete":
            n = min(size, current - at)
            ops.append(("delete", at, n))
            current -= n
        else:  # duplicate
            n = min(size, current - at)
            ops.append(("duplicate", at, n))
            current += n
    return ops


# Cut points of the chunked upload (each a seed, resolved modulo the body length).
SPLITS = st.lists(st.integers(0, 2**24), max_size=6)


def pieces(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` split at ``cuts`` (the chunks of the chunked upload)."""
    if not data:
        return [b""]
    points = sorted({c % len(data) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:])]


def common_prefix(a: bytes, b: bytes) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def intact_fragments(src: Source, ops: list[Op], mutated: bytes) -> list[list[bytes]]:
    """The leading fragments whose content the mutation leaves known: each as its frames' payloads.

    Bytes before the first op that is not a flip keep their offsets. A fragment is known when all of
    its bytes (its Cluster and the Tags after it), and every byte before them, lie before that op and
    are either untouched or inside a frame's payload: the body is then still the same MKV up to there,
    with only those frames' bytes changed.
    """
    original = src.data
    shifted = min([at for at in map(first_changed, ops) if at is not None], default=len(original))
    payload = bytearray(shifted)  # 1 where a frame's payload lies
    for offset, length in src.all_spans:
        if offset < shifted:
            payload[offset : min(offset + length, shifted)] = b"\x01" * (min(offset + length, shifted) - offset)
    structural = shifted
    position = common_prefix(original[:shifted], mutated[:shifted])
    while position < shifted:
        if original[position] != mutated[position] and not payload[position]:
            structural = position
            break
        position += 1
    out = []
    for i in range(src.fragments):
        if src.fragment_end(i) > structural:
            break
        out.append([mutated[offset : offset + length] for offset, length in src.frame_spans[i]])
    return out


# ------------------------------------------------------------ the harness
class RuleBroken(AssertionError):
    pass


@dataclass
class Case:
    """One example: what it uploads, and the record of every call made."""

    source: Source
    ops: list[Op]
    cuts: list[int]
    selector: str
    log: list[str] = field(default_factory=list, repr=False)
    budget: float = field(default=CALL_BUDGET, repr=False)  # seconds one call may take

    def describe(self) -> str:
        lines = [
            f"source={self.source.name!r} ({self.source.timecode_type}, {len(self.source.data)} bytes, "
            f"clusters at {list(self.source.cluster_offsets)})",
            f"ops={self.ops!r}",
            f"cuts={self.cuts!r}",
            f"selector={self.selector}",
            "replay: mutated = apply_ops(source(name).data, ops); chunks = pieces(mutated, cuts)",
            "calls:",
            *("  " + line for line in self.log[-40:]),
        ]
        return "\n".join(lines)

    def fail(self, message: str) -> None:
        raise RuleBroken(f"{message}\n{self.describe()}")


@dataclass(frozen=True)
class RefFragment:
    timecode: int  # the ACK's FragmentTimecode
    frames: tuple  # ((track, timecode_ms, keyframe, bytes), ...)


def _frames(fragment) -> tuple:
    return tuple((f.track_number, f.timecode_ms, f.keyframe, f.data) for f in fragment.frames)


@dataclass(frozen=True)
class Fetched:
    """A playback URL's answer, its body read whole."""

    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


def _status_of(err: ClientError) -> int:
    return int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


class Reader:
    """Calls the read APIs of one stream, each under a timeout, checking statuses."""

    def __init__(self, kv, case: Case):
        self.kv, self.case = kv, case

    # ---------------------------------------------------------- plumbing
    def client(self, stream: str, api: str):
        """A client on the stream's data endpoint for ``api`` (GetDataEndpoint asked every time)."""
        endpoint = self.bounded(
            f"GetDataEndpoint({api})",
            lambda: self.kv.kinesisvideo.get_data_endpoint(StreamName=stream, APIName=api)["DataEndpoint"],
        )
        if isinstance(endpoint, ClientError):
            self.case.fail(f"GetDataEndpoint({api}) refused a stream that exists")
        service = "kinesis-video-media" if api == "GET_MEDIA" else "kinesis-video-archived-media"
        clients = self.kv.__dict__.setdefault("_fuzz_clients", {})  # boto3 clients are slow to make
        key = (service, endpoint)
        if key not in clients:
            clients[key] = self.kv.client(service, endpoint_url=endpoint, config=NO_RETRIES)
        return clients[key]

    def bounded(self, what: str, call: Callable[[], Any]) -> Any:
        """``call()`` within CALL_BUDGET seconds; a ClientError is returned (status < 500) or fails.

        The call runs in a watched thread: in-process no socket timeout applies (moto intercepts the
        socket), and put_media has no read timeout of its own.
        """
        started = time.monotonic()
        box: dict[str, Any] = {}

        def run():
            try:
                box["value"] = call()
            except BaseException as exc:  # noqa: BLE001 - handed to _outcome below
                box["error"] = exc

        worker = threading.Thread(target=run, daemon=True, name=f"fuzz-{what}")
        worker.start()
        worker.join(self.case.budget)
        if worker.is_alive():
            self.case.fail(f"HANG: {what} did not return within {self.case.budget} s")
        if "error" in box:
            return self._outcome(what, started, error=box["error"])
        return self._outcome(what, started, value=box["value"])

    def _outcome(self, what: str, started: float, value: Any = None, error: BaseException | None = None) -> Any:
        elapsed = time.monotonic() - started
        if elapsed > self.case.budget:
            self.case.fail(f"HANG: {what} took {elapsed:.1f} s (budget {self.case.budget} s)")
        if error is None:
            self.case.log.append(f"{what} -> ok ({elapsed:.2f} s)")
            return value
        if isinstance(error, RuleBroken):
            raise error
        if isinstance(error, ClientError):
            status = _status_of(error)
            code = error.response.get("Error", {}).get("Code")
            message = error.response.get("Error", {}).get("Message")
            self.case.log.append(f"{what} -> {status} {code}: {message}")
            if status >= 500 or status == 0:
                self.case.fail(f"5xx: {what} answered {status} {code}: {message}")
            return error
        if isinstance(error, (BotoCoreError, requests.RequestException, EBMLError, OSError)):
            self.case.log.append(f"{what} -> {type(error).__name__}: {error}")
            self.case.fail(f"{what} failed: {type(error).__name__}: {error}")
        raise error

    def get(self, what: str, url: str) -> Fetched | None:
        """GET a playback URL; the body read whole under the budget."""

        def fetch() -> Fetched:
            started = time.monotonic()
            with requests.get(url, timeout=(5, SOCKET_TIMEOUT), stream=True) as response:
                body = bytearray()
                for piece in response.iter_content(65536):
                    body += piece
                    if time.monotonic() - started > self.case.budget:
                        self.case.fail(f"HANG: {what} still sending after {self.case.budget} s")
                return Fetched(response.status_code, bytes(body))

        response = self.bounded(what, fetch)
        if isinstance(response, ClientError):  # not expected from requests
            return None
        resource = url.split("?")[0].rsplit("/", 1)[-1]
        self.case.log.append(f"  {what}: {resource} -> {response.status_code} ({len(response.content)} bytes)")
        if response.status_code >= 500:
            self.case.fail(f"5xx: {what} GET {url} answered {response.status_code}: {response.text[:300]}")
        return response

    def read_body(self, what: str, body) -> bytes:
        """A botocore StreamingBody read whole, checking the budget between pieces."""
        started = time.monotonic()
        out = bytearray()
        while True:
            piece = body.read(65536)
            if not piece:
                return bytes(out)
            out += piece
            if time.monotonic() - started > self.case.budget:
                self.case.fail(f"HANG: {what} body still streaming after {self.case.budget} s")

    # ------------------------------------------------------------ the APIs
    def list_fragments(self, stream: str) -> list[dict]:
        client = self.client(stream, "LIST_FRAGMENTS")
        out: list[dict] = []
        token = None
        for page in range(100):
            params: dict[str, Any] = {"StreamName": stream, "MaxResults": 1000}
            if token:
                params["NextToken"] = token
            answer = self.bounded(f"ListFragments[{page}]", lambda: client.list_fragments(**params))
            if isinstance(answer, ClientError):
                return out
            out += answer.get("Fragments", [])
            token = answer.get("NextToken")
            if not token:
                break
        return sorted(out, key=lambda f: int(f["FragmentNumber"]))

    def fragments_media(self, stream: str, numbers: list[str]) -> dict[str, Any]:
        """GetMediaForFragmentList of ``numbers``, parsed: fragment number -> ReadFragment."""
        if not numbers:
            return {}
        client = self.client(stream, "GET_MEDIA_FOR_FRAGMENT_LIST")

        def call():
            answer = client.get_media_for_fragment_list(StreamName=stream, Fragments=numbers)
            return self.read_body("GetMediaForFragmentList body", answer["Payload"])

        body = self.bounded(f"GetMediaForFragmentList({len(numbers)})", call)
        if isinstance(body, ClientError):
            return {}
        return self._parse("GetMediaForFragmentList", body)

    def get_media(self, stream: str) -> dict[str, Any] | ClientError:
        client = self.client(stream, "GET_MEDIA")

        def call():
            answer = client.get_media(StreamName=stream, StartSelector={"StartSelectorType": "EARLIEST"})
            return self.read_body("GetMedia body", answer["Payload"])

        body = self.bounded("GetMedia(EARLIEST)", call)
        if isinstance(body, ClientError):
            return body
        return self._parse("GetMedia", body)

    def _parse(self, what: str, body: bytes) -> dict[str, Any]:
        try:
            parsed = list(kvsmock.read_fragments(body))
        except EBMLError as exc:
            self.case.fail(f"{what} output is not valid MKV: {exc}")
        out = {}
        for fragment in parsed:
            if fragment.is_error:
                self.case.log.append(f"{what}: error chunk {fragment.error_id} {fragment.error_code}")
                continue
            out[fragment.fragment_number] = fragment
        return out

    def clip(self, stream: str, start: float, end: float) -> None:
        client = self.client(stream, "GET_CLIP")

        def call():
            answer = client.get_clip(
                StreamName=stream,
                ClipFragmentSelector={
                    "FragmentSelectorType": self.case.selector,
                    "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
                },
            )
            return self.read_body("GetClip body", answer["Payload"])

        self.bounded("GetClip", call)

    def images(self, stream: str, start: float, end: float) -> None:
        client = self.client(stream, "GET_IMAGES")
        span_ms = max(0, int((end - start) * 1000))
        interval = max(1000, span_ms // 8)
        token = None
        for page in range(IMAGES_MAX_PAGES):
            params: dict[str, Any] = {
                "StreamName": stream,
                "ImageSelectorType": self.case.selector,
                "StartTimestamp": start,
                "EndTimestamp": end,
                "SamplingInterval": interval,
                "Format": "JPEG",
            }
            if token:
                params["NextToken"] = token
            answer = self.bounded(f"GetImages[{page}]", lambda: client.get_images(**params))
            if isinstance(answer, ClientError):
                return
            token = answer.get("NextToken")
            if not token:
                return

    def hls(self, stream: str, start: float, end: float, container: str) -> None:
        client = self.client(stream, "GET_HLS_STREAMING_SESSION_URL")
        answer = self.bounded(
            f"GetHLSStreamingSessionURL({container})",
            lambda: client.get_hls_streaming_session_url(
                StreamName=stream,
                PlaybackMode="ON_DEMAND",
                ContainerFormat=container,
                HLSFragmentSelector={
                    "FragmentSelectorType": self.case.selector,
                    "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
                },
            ),
        )
        if isinstance(answer, ClientError):
            return
        master_url = answer["HLSStreamingSessionURL"]
        master = self.get("HLS master", master_url)
        if master is None or master.status_code != 200:
            return
        playlists = _uris(master.text) + re.findall(r'#EXT-X-MEDIA:[^\n]*URI="([^"]+)"', master.text)
        for uri in dict.fromkeys(playlists):
            playlist_url = urljoin(master_url, uri)
            playlist = self.get("HLS media playlist", playlist_url)
            if playlist is None or playlist.status_code != 200:
                continue
            for init in re.findall(r'#EXT-X-MAP:URI="([^"]+)"', playlist.text):
                self.get("HLS init", urljoin(playlist_url, init))
            for segment in _uris(playlist.text):
                self.get("HLS segment", urljoin(playlist_url, segment))

    def dash(self, stream: str, start: float, end: float) -> None:
        client = self.client(stream, "GET_DASH_STREAMING_SESSION_URL")
        answer = self.bounded(
            "GetDASHStreamingSessionURL",
            lambda: client.get_dash_streaming_session_url(
                StreamName=stream,
                PlaybackMode="ON_DEMAND",
                DASHFragmentSelector={
                    "FragmentSelectorType": self.case.selector,
                    "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
                },
            ),
        )
        if isinstance(answer, ClientError):
            return
        mpd_url = answer["DASHStreamingSessionURL"]
        mpd = self.get("DASH MPD", mpd_url)
        if mpd is None or mpd.status_code != 200:
            return
        try:
            root = ET.fromstring(mpd.content)
        except ET.ParseError as exc:
            self.case.fail(f"DASH MPD answered 200 with XML that does not parse: {exc}: {mpd.text[:300]}")
        ns = {"mpd": "urn:mpeg:dash:schema:mpd:2011"}
        for adaptation in root.iterfind("mpd:Period/mpd:AdaptationSet", ns):
            for representation in adaptation.iterfind("mpd:Representation", ns):
                template = representation.find("mpd:SegmentTemplate", ns)
                if template is None:
                    continue
                rep_id = representation.get("id", "")

                def expand(text: str, number: int | None = None, t: int | None = None) -> str:
                    text = text.replace("$RepresentationID$", rep_id)
                    if number is not None:
                        text = text.replace("$Number$", str(number))
                    if t is not None:
                        text = text.replace("$Time$", str(t))
                    return urljoin(mpd_url, text)

                if template.get("initialization"):
                    self.get("DASH init", expand(template.get("initialization")))
                number = int(template.get("startNumber", "1"))
                for s in template.iterfind("mpd:SegmentTimeline/mpd:S", ns):
                    t, d = int(s.get("t", "0")), int(s.get("d", "0"))
                    for _ in range(int(s.get("r", "0")) + 1):
                        self.get("DASH segment", expand(template.get("media"), number, t))
                        number += 1
                        t += d


def _uris(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _range(listed: list[dict], selector: str, now: float) -> tuple[float, float]:
    """The whole range of what is listed, by ``selector``; a range before ``now`` / around START when nothing is."""
    key = "ServerTimestamp" if selector == "SERVER_TIMESTAMP" else "ProducerTimestamp"
    if not listed:
        return (now - 2 * SETTLE, now - 1) if selector == "SERVER_TIMESTAMP" else (START - 10, START + 60)
    starts = [f[key].timestamp() for f in listed]
    ends = [f[key].timestamp() + f.get("FragmentLengthInMilliseconds", 0) / 1000 for f in listed]
    return min(starts) - 1, max(ends) + 1


# -------------------------------------------------------------- uploading
_stream_ids = count()


def _new_stream(kv, label: str) -> str:
    name = f"fuzz-{label}-{next(_stream_ids)}"
    kv.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    return name


def _upload(kv, case: Case, stream: str, chunks: list[bytes]) -> list[dict]:
    src = case.source
    kwargs: dict[str, Any] = dict(
        media=iter(chunks), timecode_type=src.timecode_type, producer_start_timestamp=START, session=kv.session()
    )
    if kv.endpoint_url:
        kwargs["endpoint_url"] = kv.endpoint_url
    else:
        kwargs["region_name"] = REGION
    reader = Reader(kv, case)
    acks = reader.bounded("PutMedia", lambda: kvsmock.put_media(stream, **kwargs))
    if isinstance(acks, ClientError):
        return []
    summary = [(a["EventType"], a.get("FragmentTimecode"), a.get("ErrorId")) for a in acks]
    case.log.append(f"  acks: {summary}")
    for a in acks:
        if a["EventType"] == "ERROR" and int(a.get("ErrorId", 0)) >= 5000:
            case.fail(f"PutMedia ACKed an internal error: {a}")
    return acks


_REFERENCES: dict[tuple[str, bool], list[RefFragment]] = {}


def reference(kv, src: Source, in_process: bool) -> list[RefFragment]:
    """What each fragment of the unmutated upload reads back as (computed once per source and mode)."""
    key = (src.name, in_process)
    if key not in _REFERENCES:
        case = Case(src, [], [], "SERVER_TIMESTAMP")
        stream = _new_stream(kv, "ref")
        acks = _upload(kv, case, stream, [src.data])
        persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
        assert len(persisted) == src.fragments, (src.name, acks)
        reader = Reader(kv, case)
        media = reader.fragments_media(stream, [a["FragmentNumber"] for a in persisted])
        refs = [RefFragment(a["FragmentTimecode"], _frames(media[a["FragmentNumber"]])) for a in persisted]
        # The unmutated upload reads back with every frame's bytes as sent.
        sent = [[src.data[o : o + n] for o, n in spans] for spans in src.frame_spans]
        assert [[f[3] for f in r.frames] for r in refs] == sent, src.name
        _REFERENCES[key] = refs
    return _REFERENCES[key]


# ------------------------------------------------------------- one example
def check_example(kv, case: Case, chunks: list[bytes], mutated: bytes, reset: Callable[[], None] | None) -> None:
    in_process = not kv.endpoint_url
    src = case.source
    if reset is not None:
        reset()  # a clean server for each example (the reference is kept as data)
    refs = reference(kv, src, in_process)
    intact = intact_fragments(src, case.ops, mutated)
    keep = len(intact)
    stream = _new_stream(kv, "mut")
    acks = _upload(kv, case, stream, chunks)

    # The intact prefix was stored: its `keep` fragments were PERSISTED, in order, and must read back
    # as the unmutated upload's fragments (with any payload flips in them).
    persisted = [a for a in acks if a["EventType"] == "PERSISTED"]
    case.log.append(f"  intact fragments: {keep} of {src.fragments}")
    if len(persisted) < keep:
        case.fail(f"only {len(persisted)} PERSISTED ACKs, but the first {keep} fragments are intact")
    protected: dict[str, tuple] = {}
    for i in range(keep):
        if persisted[i]["FragmentTimecode"] != refs[i].timecode:
            case.fail(f"PERSISTED #{i} has timecode {persisted[i]['FragmentTimecode']}, expected {refs[i].timecode}")
        frames = tuple((track, tc, key, data) for (track, tc, key, _), data in zip(refs[i].frames, intact[i]))
        protected[persisted[i]["FragmentNumber"]] = frames

    # SERVER_TIMESTAMP ranges must end in the past: move the emulator's clock on rather than wait.
    now = kv.advance_clock(SETTLE)

    reader = Reader(kv, case)
    # GetMedia first. Against the server it ends only ~1 s after it has caught up (the fixture's
    # --get-media-idle-timeout), so it runs in the background while the other reads go on;
    # in-process it returns what is stored at once.
    media_box: dict[str, Any] = {}

    def run_get_media():
        try:
            media_box["value"] = reader.get_media(stream)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            media_box["error"] = exc

    get_media_thread = threading.Thread(target=run_get_media, daemon=True, name="fuzz-get-media")
    get_media_thread.start()
    if in_process:
        get_media_thread.join(case.budget + SOCKET_TIMEOUT)

    listed = reader.list_fragments(stream)
    listed_numbers = [f["FragmentNumber"] for f in listed]
    missing = [n for n in protected if n not in listed_numbers]
    if missing:
        case.fail(f"intact, PERSISTED fragments {missing} are not listed by ListFragments")
    by_number = reader.fragments_media(stream, listed_numbers)
    _compare(case, "GetMediaForFragmentList", protected, by_number)

    start, end = _range(listed, case.selector, now)
    reader.clip(stream, start, end)
    reader.images(stream, start, end)
    reader.hls(stream, start, end, "FRAGMENTED_MP4")
    reader.hls(stream, start, end, "MPEG_TS")
    reader.dash(stream, start, end)

    get_media_thread.join(case.budget + SOCKET_TIMEOUT)
    if get_media_thread.is_alive():
        case.fail("HANG: GetMedia(EARLIEST) did not end")
    if "error" in media_box:
        raise media_box["error"]
    got = media_box["value"]
    if not isinstance(got, ClientError):
        _compare(case, "GetMedia", protected, got)
    if in_process:  # the mock's state lives as long as the test: free this example's stream
        arn = kv.kinesisvideo.describe_stream(StreamName=stream)["StreamInfo"]["StreamARN"]
        kv.kinesisvideo.delete_stream(StreamARN=arn)


def _compare(case: Case, what: str, protected: dict[str, tuple], by_number: dict[str, Any]) -> None:
    for number, expected in protected.items():
        fragment = by_number.get(number)
        if fragment is None:
            case.fail(f"{what}: intact PERSISTED fragment {number} missing from the output")
        frames = _frames(fragment)
        if frames != expected:
            diff = next(
                (i for i, (a, b) in enumerate(zip(frames, expected)) if a != b), min(len(frames), len(expected))
            )
            got = frames[diff] if diff < len(frames) else None
            want = expected[diff] if diff < len(expected) else None
            detail = f"(track, timecode, key) {got and got[:3]} vs {want and want[:3]}"
            if got and want and got[:3] == want[:3]:
                byte = common_prefix(got[3], want[3])
                detail = f"{detail}; {len(got[3])} vs {len(want[3])} payload bytes, first difference at byte {byte}"
            case.fail(
                f"{what}: intact fragment {number} differs from what was uploaded "
                f"({len(frames)} frames vs {len(expected)}; first difference at frame {diff}: {detail})"
            )


# -------------------------------------------------------------- the tests
@st.composite
def cases(draw, anywhere: bool, names=SOURCE_NAMES):
    src = source(draw(st.sampled_from(names)))
    if anywhere:
        lo = 0
        # Payload flips only (every fragment is still stored, with some frames changed), a few
        # targeted flips, a whole fragment dropped / repeated / swapped, or any edits.
        flips, fragment_edits, edits = draw(
            st.one_of(
                st.tuples(st.lists(_PAYLOAD_FLIP, min_size=1, max_size=6), st.just([]), st.just([])),
                st.tuples(st.lists(_TARGETED_FLIP, min_size=1, max_size=3), st.just([]), st.just([])),
                st.tuples(st.lists(_PAYLOAD_FLIP, max_size=2), st.tuples(_FRAGMENT_EDIT).map(list), st.just([])),
                st.tuples(st.lists(_PAYLOAD_FLIP, max_size=2), st.just([]), st.lists(_EDIT, min_size=1, max_size=3)),
            )
        )
    else:
        # After the first N fragments (N from 1 to all but one): edits from Cluster N on.
        n = draw(st.integers(1, max(1, src.fragments - 1)))
        lo = src.cluster_offsets[n]
        flips = draw(st.lists(_TARGETED_FLIP, max_size=3))
        fragment_edits = draw(st.lists(_FRAGMENT_EDIT, max_size=1))
        edits = draw(st.lists(_EDIT, min_size=0 if flips or fragment_edits else 1, max_size=4))
    ops = resolve(src, flips, fragment_edits, edits, lo)
    cuts = draw(SPLITS)
    selector = draw(st.sampled_from(["SERVER_TIMESTAMP", "PRODUCER_TIMESTAMP"]))
    return Case(src, ops, cuts, selector)


def run_case(kv, case: Case, reset=None) -> None:
    mutated = apply_ops(case.source.data, case.ops)
    check_example(kv, case, pieces(mutated, case.cuts), mutated, reset)


# ----------------------------------------------------- regressions found
def _huge_timecode_case() -> Case:
    """Found by this fuzzer (fixed in 1e5d3eb): h264_6s.mkv with its second Cluster's Timecode size
    byte 0x82 made 0x47, a 0x700-byte (1792) Timecode, uploaded in two chunks (the second still to
    come when the bad Timecode is read). The Timecode was read as an integer of 4316 digits, its ACK
    could not be serialised ('Exceeds the limit (4300 digits) for integer string conversion'): the
    server's ACK stream died unterminated and PutMedia hung (or ended in a broken chunked
    response); in-process PutMedia answered 500 InternalFailure."""
    src = source("h264_6s.mkv")
    size_at = src.timecode_spans[1][0] - 1
    assert src.data[size_at] == 0x82
    case = Case(src, [("flip", size_at, 0x82 ^ 0x47)], [30000], "SERVER_TIMESTAMP")
    case.budget = 10.0
    return case


def test_regression_huge_cluster_timecode_server(kvs_server):
    run_case(kvs_server, _huge_timecode_case(), kvs_server.reset)


def test_regression_huge_cluster_timecode_in_process(kvs):
    run_case(kvs, _huge_timecode_case())


CI = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
SLOW = dict(
    deadline=None,
    max_examples=1000,
    suppress_health_check=CI["suppress_health_check"],
)
CI_EXAMPLES = 40


@settings(max_examples=CI_EXAMPLES, **CI)
@given(case=cases(anywhere=False))
def test_server_after_valid_prefix(kvs_server, case):
    run_case(kvs_server, case, kvs_server.reset)


@settings(max_examples=CI_EXAMPLES, **CI)
@given(case=cases(anywhere=True))
def test_server_anywhere(kvs_server, case):
    run_case(kvs_server, case, kvs_server.reset)


@settings(max_examples=CI_EXAMPLES // 2, **CI)
@given(case=cases(anywhere=False, names=["sample_h264", "h264_aac_sdk_style.mkv", "h265_4s.mkv"]))
def test_in_process_after_valid_prefix(kvs, case):
    run_case(kvs, case)


@pytest.mark.slow
@settings(**SLOW)
@given(case=cases(anywhere=False))
def test_slow_server_after_valid_prefix(kvs_server, case):
    run_case(kvs_server, case, kvs_server.reset)


@pytest.mark.slow
@settings(**SLOW)
@given(case=cases(anywhere=True))
def test_slow_server_anywhere(kvs_server, case):
    run_case(kvs_server, case, kvs_server.reset)


@pytest.mark.slow
@settings(**SLOW)
@given(case=cases(anywhere=True))
def test_slow_in_process_anywhere(kvs, case):
    run_case(kvs, case)
