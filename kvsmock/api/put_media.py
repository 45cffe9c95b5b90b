"""PutMedia: an MKV upload in, a stream of ACK events out.

One driver, :func:`upload_acks`, runs a :class:`PutMediaSession` over the
request body for both paths: in-process it is drained at once and the ACKs
answered together; in the server a thread runs it while each ACK goes out as
it comes (sent by that thread itself while it can, :mod:`.ack_outbox`; IDLE
ACKs while the upload is quiet). Either way
a body that cannot be read ends with STREAM_READ_ERROR (4000), and a fault
inside kvsmock is logged with its traceback and ends with the service's
INTERNAL_ERROR (5000) ACK (see :class:`PutMediaSession`), never disguised
as the client's fault.

The stream's one PutMedia connection is held until both the response and the
thread reading the upload are done, so a new connection never runs beside
an old one still feeding its session.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Iterator

from .. import clock
from ..errors import InvalidArgumentException, ResourceNotFoundException
from ..service.connections import PUT_MEDIA, ConnectionClaim, claim_connection
from ..service.put_media import PutMediaSession
from ..service.quotas import admit_call
from .ack_outbox import AckOutbox
from .request import ApiRequest, ApiResponse, BackendLookup, ChunkGroup, ConnectionDrop, then_dropped

log = logging.getLogger("kvsmock")

#: Seconds between IDLE ACKs while a PutMedia connection is quiet.
IDLE_ACK_INTERVAL = 2.0
#: Seconds without data after which the service closes a PutMedia request (spec 1.7).
IDLE_CLOSE_SECONDS = 30.0


def _target(req: ApiRequest) -> dict[str, str]:
    name = req.headers.get("x-amzn-stream-name")
    arn = req.headers.get("x-amzn-stream-arn")
    if name and not arn:
        return {"StreamName": name}
    if arn and not name:
        return {"StreamARN": arn}
    raise InvalidArgumentException("Send exactly one of the x-amzn-stream-name and x-amzn-stream-arn headers.")


def _timecode_settings(req: ApiRequest) -> tuple[str, Decimal]:
    timecode_type = req.headers.get("x-amzn-fragment-timecode-type", "")
    if timecode_type not in ("ABSOLUTE", "RELATIVE"):
        raise InvalidArgumentException("The x-amzn-fragment-timecode-type header must be ABSOLUTE or RELATIVE.")
    raw = req.headers.get("x-amzn-producer-start-timestamp", "0") or "0"
    try:
        start = Decimal(raw)
        if not start.is_finite() or not 0 <= start <= Decimal(clock.LATEST):
            raise InvalidOperation
    except InvalidOperation:
        raise InvalidArgumentException(
            f"The x-amzn-producer-start-timestamp header '{raw[:64]}' is not epoch seconds "
            f"from 0 to {clock.LATEST:.0f}."
        ) from None
    return timecode_type, start


def _ack_line(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def upload_acks(
    session: PutMediaSession, pieces: Iterable[bytes], stopped: Callable[[], bool] = lambda: False
) -> Iterator[dict[str, Any]]:
    """Every ACK of one upload, in order (:func:`upload_ack_groups`, one by one)."""
    for group in upload_ack_groups(session, pieces, stopped):
        yield from group


def upload_ack_groups(
    session: PutMediaSession, pieces: Iterable[bytes], stopped: Callable[[], bool] = lambda: False
) -> Iterator[list[dict[str, Any]]]:
    """The ACKs of one upload, in order, as its pieces are read and fed to ``session``: those that one
    piece makes together (a fragment's RECEIVED and PERSISTED, the next one's BUFFERING) in one list.

    Reading a piece that fails is the client's error (STREAM_READ_ERROR); a
    fault inside the session is kvsmock's, which the session logs and answers
    with INTERNAL_ERROR. Once ``stopped()`` (the connection was closed for
    idleness) nothing more is fed and the body is not finished.
    """
    try:
        yield from _feed(session, pieces, stopped)
    finally:
        session.finish()  # the deliveries it owes are made before the response ends


def _feed(
    session: PutMediaSession, pieces: Iterable[bytes], stopped: Callable[[], bool]
) -> Iterator[list[dict[str, Any]]]:
    body = iter(pieces)
    while not session.ended:
        try:
            piece = next(body)
        except StopIteration:
            break
        except Exception as exc:  # the client went away, or sent a body that is not valid chunking
            log.debug("PutMedia body could not be read: %s", exc)
            yield [session.read_error()]
            return
        if stopped():
            session.ended = True
            return
        acks = session.feed(piece)
        if acks:
            yield acks
    if not (session.ended or stopped()):
        acks = session.close()
        if acks:
            yield acks


def put_media(backend_for: BackendLookup, req: ApiRequest) -> ApiResponse:
    if req.method != "POST":
        raise InvalidArgumentException("PutMedia takes POST.")
    target = _target(req)
    timecode_type, start = _timecode_settings(req)
    backend = backend_for(req.account_id, req.region)
    admit_call(backend, "PutMedia", target)
    stream = backend.find_stream(target)
    if stream.status != "ACTIVE":
        raise ResourceNotFoundException("The requested stream is not found or not active.")
    claim = claim_connection(
        stream, PUT_MEDIA, backend.lock,
        f"The stream {stream.name} already has a PutMedia connection; only one is allowed.",
        parts=2 if req.streaming else 1,  # the server: the response and the thread reading the upload
        on_release=stream.store.wake_all,  # caught-up GetMedia readers start their idle time now
    )
    session = PutMediaSession(stream, timecode_type, start, fault=req.fault)
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": req.request_id}
    if not req.streaming:
        try:
            acks = list(upload_acks(session, req.iter_body()))
        finally:
            claim.let_go()
        answer = b"".join(_ack_line(a) for a in acks)
        return ApiResponse(200, headers, then_dropped(answer, "PutMedia") if session.dropped else answer)
    return ApiResponse(200, headers, _streamed_acks(session, req, claim))


def _streamed_acks(session: PutMediaSession, req: ApiRequest, claim: ConnectionClaim) -> Iterator[bytes]:
    """ACK lines sent while the body is still being read (server mode): by the reading thread itself
    while the response waits (:mod:`.ack_outbox`), else by the response."""
    outbox = AckOutbox(req.chunk_sender)
    last_data = [clock.now()]
    closing = threading.Event()

    def pieces() -> Iterator[bytes]:
        for piece in req.iter_body():
            last_data[0] = clock.now()
            yield piece

    def read_body() -> None:
        try:
            for group in upload_ack_groups(session, pieces(), closing.is_set):
                outbox.put([_ack_line(a) for a in group])
        except Exception:  # a kvsmock fault sending the ACKs: the response ends after what was sent
            log.exception("kvsmock failed sending the ACKs of a PutMedia upload into %s", session.stream.arn)
        finally:
            outbox.end()
            claim.let_go()

    threading.Thread(target=read_body, name="kvsmock-putmedia", daemon=True).start()
    try:
        try:
            yield b""  # send the 200 and headers at once, as the service does
        finally:
            outbox.written()
        while True:
            work = outbox.take(max(0.0, IDLE_ACK_INTERVAL - (time.monotonic() - outbox.last_ack)))
            if work is None:
                if clock.now() - last_data[0] >= IDLE_CLOSE_SECONDS:
                    return
                if outbox.idle_due(IDLE_ACK_INTERVAL):
                    try:
                        yield _ack_line(session.idle())
                    finally:
                        outbox.written()
                continue
            lines, ended = work
            try:
                if lines:  # what is ready goes out in one write, an HTTP chunk per ACK (RECEIVED and PERSISTED)
                    yield ChunkGroup(lines) if len(lines) > 1 else lines[0]
                elif req.chunk_sender is not None:
                    req.chunk_sender.flush()  # what the reading thread's send left
            finally:
                outbox.written()
            if ended:
                break
        if session.dropped:
            raise ConnectionDrop("a fault rule closed the PutMedia connection")
    finally:  # the response is done (ended, or the client went away): the reader stops feeding
        outbox.close()
        closing.set()
        claim.let_go()
