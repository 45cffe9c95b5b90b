"""GetMedia: the stream's fragments as MKV chunks, from a start selector on.

In the server it streams for real: a GetMedia that has caught up waits for
new fragments. In-process a call returns what is stored when it is made.

When a live GetMedia ends
    It keeps tailing while a PutMedia connection is open on the stream (a
    producer that is connected may send more). Once it has caught up and no
    PutMedia connection is open, it ends ``req.get_media_idle_timeout``
    seconds later (the server's ``--get-media-idle-timeout``, 3 by default;
    ``None``: only the session limit ends it),
    unless a new fragment or a new PutMedia connection comes first; the time
    starts again after either. It also ends at the 45-minute session limit,
    when the stream is deleted, and as soon as the client has gone (checked
    every :data:`CLIENT_CHECK_SECONDS` while it waits), which frees its slot.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Iterator

from .. import clock
from ..errors import InvalidArgumentException, KmsKeyError, ResourceNotFoundException
from ..media import chunk_pieces, error_chunk_pieces
from ..service.backend import KinesisVideoService
from ..service.connections import GET_MEDIA, LIMITS, claim_connection
from ..service.faults import GET_MEDIA_ERROR_CODES, Strike
from ..service.fragments import StoredFragment, index_at_timestamp, millis_behind_now
from ..service.persistence import CorruptMediaError
from ..service.streams import Stream
from .live_fan_out import live_fan_out
from .request import ApiRequest, ApiResponse, ChunkSender, ConnectionDrop, then_dropped

log = logging.getLogger("kvsmock")

#: The longest a GetMedia connection may stay open.
SESSION_LIMIT_SECONDS = 45 * 60
#: Seconds between checks, while a GetMedia waits for fragments, that its client is still connected.
CLIENT_CHECK_SECONDS = 0.5


# ------------------------------------------------------------------ GetMedia
def chunk_for(stream: Stream, fragment: StoredFragment) -> list[bytes]:
    """The GetMedia chunk of one stored fragment in three pieces: what comes before its Cluster, the Cluster
    (decrypted once for all the readers that want it, never copied), and what follows it."""
    cluster = stream.store.cluster_of(fragment)
    pieces = chunk_pieces(
        fragment.header.ebml_header,
        fragment.header.segment_header,
        cluster,
        fragment.tags_after,
        fragment_number=fragment.number,
        server_timestamp=fragment.server_timestamp,
        producer_timestamp=fragment.producer_timestamp,
        millis_behind_now=millis_behind_now(fragment),
        continuation_token=fragment.number,
    )
    at = next(i for i, piece in enumerate(pieces) if piece is cluster)
    return [b"".join(pieces[:at]), cluster, b"".join(pieces[at + 1 :])]


def _start_after(stream: Stream, selector: dict[str, Any]) -> str:
    """Where a GetMedia starts: it sends the fragments numbered above the returned one ("": all)."""
    kind = selector["StartSelectorType"]
    store = stream.store
    if kind == "EARLIEST":
        return ""
    if kind == "NOW":
        fragments = store.snapshot()
        return fragments[-2].number if len(fragments) >= 2 else ""
    if kind == "FRAGMENT_NUMBER":
        number = selector.get("AfterFragmentNumber")
        if not number:
            raise InvalidArgumentException("AfterFragmentNumber is required with StartSelectorType FRAGMENT_NUMBER.")
        return number
    if kind == "CONTINUATION_TOKEN":
        token = selector.get("ContinuationToken")
        if not token:
            raise InvalidArgumentException("ContinuationToken is required with StartSelectorType CONTINUATION_TOKEN.")
        return token
    timestamp = selector.get("StartTimestamp")
    if timestamp is None:
        raise InvalidArgumentException(f"StartTimestamp is required with StartSelectorType {kind}.")
    fragments = store.snapshot()
    index = index_at_timestamp(fragments, float(timestamp), producer=kind == "PRODUCER_TIMESTAMP")
    if index >= len(fragments):  # nothing at or after that instant yet: wait for what comes
        return fragments[-1].number if fragments else ""
    return fragments[index - 1].number if index > 0 else ""


class FragmentFault:
    """A fault rule's plan for one GetMedia: a delay before each fragment, and after
    ``after_fragments`` an error chunk or a dropped connection."""

    def __init__(self, strike: Strike | None):
        self.strike = strike
        self.sent = 0

    def before(self, fragment: StoredFragment) -> list[bytes]:
        """Wait before ``fragment``; the pieces of the error chunk that ends the response instead of it, if
        that is the plan (then :class:`StoppedByError` follows). Raises ConnectionDrop for a drop."""
        strike = self.strike
        if strike is None:
            return []
        if strike.latency_s:
            time.sleep(strike.latency_s)
        if strike.after_fragments is None or self.sent < strike.after_fragments:
            self.sent += 1
            return []
        if strike.drop:
            raise ConnectionDrop("a fault rule closed the GetMedia connection")
        assert strike.error_id is not None
        return error_chunk_pieces(fragment.number, strike.error_id, GET_MEDIA_ERROR_CODES[strike.error_id],
                                  ebml_header_bytes=fragment.header.ebml_header)


def media_chunks(
    stream: Stream, fragments: list[StoredFragment], fault: FragmentFault | None = None
) -> Iterator[list[bytes]]:
    """The pieces of one chunk per fragment (see :func:`chunk_for`: send them, don't join them); a KMS failure
    (or a fault rule's error) ends the output with the service's error chunk."""
    for fragment in fragments:
        if fault is not None:
            instead = fault.before(fragment)
            if instead:
                yield [b"".join(instead)]
                raise StoppedByError
        try:
            chunk = chunk_for(stream, fragment)
        except KmsKeyError as err:
            yield [b"".join(error_chunk_pieces(fragment.number, err.error_id, err.error_code,
                                               ebml_header_bytes=fragment.header.ebml_header))]
            raise StoppedByError from None
        except CorruptMediaError as err:
            log.error("kvsmock cannot serve fragment %s of %s: %s", fragment.number, stream.arn, err)
            yield [b"".join(error_chunk_pieces(fragment.number, 5000, "INTERNAL_ERROR",
                                               ebml_header_bytes=fragment.header.ebml_header))]
            raise StoppedByError from None
        stream.usage.consumed(sum(len(piece) for piece in chunk))
        yield chunk


class StoppedByError(Exception):
    """An error chunk was sent: the response ends."""


def get_media(backend: KinesisVideoService, req: ApiRequest, params: dict[str, Any]) -> ApiResponse:
    stream = backend.find_stream(params)
    if stream.status != "ACTIVE":
        raise ResourceNotFoundException("The requested stream is not found or not active.")
    after = _start_after(stream, params["StartSelector"])
    headers = {"Content-Type": "video/webm", "x-amzn-RequestId": req.request_id}
    fault = FragmentFault(req.fault)
    if not req.streaming:
        pieces: list[bytes] = []
        try:
            for chunk in media_chunks(stream, stream.store.newer_than(after), fault):
                pieces.extend(chunk)
        except StoppedByError:
            pass
        except ConnectionDrop:
            return ApiResponse(200, headers, then_dropped(b"".join(pieces), "GetMedia"))
        return ApiResponse(200, headers, b"".join(pieces))
    claim = claim_connection(
        stream, GET_MEDIA, backend.lock,
        f"The stream {stream.name} already has {LIMITS[GET_MEDIA]} GetMedia connections.",
    )
    sender = req.chunk_sender if req.fault is None else None  # a fault rule's plan is applied by the reader
    tail = _tail(stream, after, req.get_media_idle_timeout, req.client_gone, fault, sender)
    return ApiResponse(200, headers, tail, on_close=claim.let_go)


def _tail(
    stream: Stream,
    after: str,
    idle_limit: float | None,
    client_gone: Callable[[], bool] | None = None,
    fault: FragmentFault | None = None,
    sender: ChunkSender | None = None,
) -> Iterator[bytes]:
    """Chunks of the fragments numbered above ``after``, then new ones as they arrive (server mode).

    Ends as the module docstring says: idle (caught up, no PutMedia
    connection) for ``idle_limit`` seconds, the session limit, the stream
    gone, or ``client_gone()``. With a ``sender`` (the connection), a
    caught-up reader waits in the stream's fan-out, which sends it new
    fragments (:mod:`.live_fan_out`).
    """
    store = stream.store
    opened = clock.now()
    yield b""
    idle_since = time.monotonic()
    while True:
        fragments = store.newer_than(after)
        try:
            for fragment, chunk in zip(fragments, media_chunks(stream, fragments, fault)):
                yield from chunk
                after = fragment.number
        except StoppedByError:
            return
        if fragments:
            idle_since = time.monotonic()
        if stream.status != "ACTIVE":
            return
        wait = SESSION_LIMIT_SECONDS - (clock.now() - opened)
        if wait <= 0:
            return
        producers = stream.put_media_connections
        if producers:
            idle_since = time.monotonic()  # a connected producer may send more: not idle
        elif idle_limit is not None:
            left = idle_limit - (time.monotonic() - idle_since)
            if left <= 0:
                return
            wait = min(wait, left)
        if client_gone is not None:
            if client_gone():
                return
            wait = min(wait, CLIENT_CHECK_SECONDS)
        # Woken by a new fragment, the stream's deletion, or a PutMedia connection closing.
        def stop() -> bool:
            return stream.status != "ACTIVE" or stream.put_media_connections != producers

        if sender is None:
            store.wait_for_newer(after, timeout=wait, stop=stop)
        else:
            after, sent = live_fan_out(stream, chunk_for).wait(stream, after, sender, wait, stop)
            sender.flush()  # what the fan-out could not send at once, before anything else
            if sent:
                idle_since = time.monotonic()
        if producers:
            idle_since = time.monotonic()  # connected until about now

