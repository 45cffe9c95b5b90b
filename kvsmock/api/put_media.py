"""PutMedia: an MKV upload in, a stream of ACK events out.

One feed, :class:`UploadFeed`, gives a :class:`PutMediaSession` the request
body as it arrives, on every path: in-process :func:`upload_acks` drains it
at once and the ACKs are answered together; in the server each ACK goes out
as it comes, the body read by the server's shared upload readers (a plain
HTTP connection: :class:`~kvsmock.api.request.BodyPump`) or by a thread of
its own (TLS), which sends the ACKs itself while it can (:mod:`.ack_outbox`;
IDLE ACKs while the upload is quiet). Either way a body that cannot be read
ends with STREAM_READ_ERROR (4000), and a fault inside kvsmock is logged
with its traceback and ends with the service's INTERNAL_ERROR (5000) ACK
(see :class:`PutMediaSession`), never disguised as the client's fault.

The stream's one PutMedia connection is held until both the response and
the reading of the upload are done, so a new connection never runs beside
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
from .request import (
    ApiRequest,
    ApiResponse,
    BackendLookup,
    BodyPump,
    BodySink,
    ChunkGroup,
    ConnectionDrop,
    then_dropped,
)

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


def upload_acks(session: PutMediaSession, pieces: Iterable[bytes]) -> list[dict[str, Any]]:
    """Every ACK of one upload, in order, its body pulled and fed to ``session`` on this thread (in-process)."""
    acks: list[dict[str, Any]] = []
    try:
        PulledBody(pieces).run(_FeedSink(UploadFeed(session), acks.extend))
    finally:
        session.finish()  # the deliveries it owes are made before the answer
    return acks


class UploadFeed:
    """One upload's body fed to its session as it arrives: the ACKs each piece makes.

    A body that cannot be read is the client's error (STREAM_READ_ERROR); a
    fault inside the session is kvsmock's, which the session logs and answers
    with INTERNAL_ERROR. Once ``stopped()`` (the connection was closed for
    idleness) nothing more is fed and the body is not finished.
    """

    def __init__(self, session: PutMediaSession, stopped: Callable[[], bool] = lambda: False):
        self.session = session
        self._stopped = stopped

    @property
    def wants_more(self) -> bool:
        """Whether the session takes more of the body (no ERROR ended it, the body has not ended)."""
        return not self.session.ended

    def piece(self, data: bytes) -> list[dict[str, Any]]:
        """The ACKs the next piece of the body makes."""
        if self.session.ended:
            return []
        if self._stopped():
            self.session.ended = True
            return []
        return self.session.feed(data)

    def ended(self) -> list[dict[str, Any]]:
        """The body has ended: the ACKs of what it completes."""
        if self.session.ended or self._stopped():
            self.session.ended = True
            return []
        return self.session.close()

    def failed(self, error: BaseException) -> list[dict[str, Any]]:
        """The body could not be read (the client went away, or it is not valid chunking)."""
        log.debug("PutMedia body could not be read: %s", error)
        return [] if self.session.ended else [self.session.read_error()]


class PulledBody:
    """A request body pulled piece by piece and pushed to a :class:`~kvsmock.api.request.BodySink`
    (a :class:`~kvsmock.api.request.BodyPump`): by a thread of its own (:meth:`start`), or by the
    caller (:meth:`run`)."""

    def __init__(self, pieces: Iterable[bytes]):
        self._pieces = pieces
        #: Bytes of the body pushed so far.
        self.received = 0
        self._gate = threading.Lock()  # held while the sink is called: stop() waits for it
        self._stopped = False

    def start(self, sink: BodySink) -> None:
        threading.Thread(target=self.run, args=(sink,), name="kvsmock-putmedia", daemon=True).start()

    def stop(self) -> None:
        with self._gate:
            self._stopped = True

    def run(self, sink: BodySink) -> None:
        """Pull the body into ``sink`` until it ends, fails, is not wanted any more, or :meth:`stop`."""
        body = iter(self._pieces)
        error: BaseException | None = None
        while True:
            try:
                piece = next(body)
            except StopIteration:
                break
            except Exception as exc:  # the client went away, or sent a body that is not valid chunking
                error = exc
                break
            with self._gate:
                if self._stopped:
                    return
                self.received += len(piece)
                if not sink.piece(piece):
                    break
        with self._gate:
            if not self._stopped:
                sink.end(error)


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
        on_release=stream.store.wake_all,  # caught-up GetMedia readers start their idle time now
    )
    session = PutMediaSession(stream, timecode_type, start, fault=req.fault)
    headers = {"Content-Type": "application/json", "x-amzn-RequestId": req.request_id}
    if not req.streaming:
        try:
            acks = upload_acks(session, req.iter_body())
        finally:
            claim.let_go()
        answer = b"".join(_ack_line(a) for a in acks)
        return ApiResponse(200, headers, then_dropped(answer, "PutMedia") if session.dropped else answer)
    # The server's shared upload readers, given a plain connection; else (TLS) a thread of the upload's own.
    # A fault rule's delays would hold a shared reader: such an upload has its own thread too.
    pump = req.body_pump if req.body_pump is not None and req.fault is None else PulledBody(req.iter_body())
    return ApiResponse(200, headers, _streamed_acks(session, req, claim, pump))


class _FeedSink:
    """An upload's body into its session (:class:`UploadFeed`), the ACKs each piece makes handed to ``put``;
    ``ended`` is called after the last."""

    def __init__(
        self, feed: UploadFeed, put: Callable[[list[dict[str, Any]]], None], ended: Callable[[], None] = lambda: None
    ):
        self.feed = feed
        self._put = put
        self._ended = ended
        #: When the last piece arrived (the clock's seconds): a quiet upload is closed after IDLE_CLOSE_SECONDS.
        self.last_data = clock.now()

    def piece(self, data: bytes) -> bool:
        self.last_data = clock.now()
        try:
            acks = self.feed.piece(data)
            if acks:
                self._put(acks)
        except Exception:  # a kvsmock fault handing the ACKs on: the upload ends after what was sent
            self._fault()
        return self.feed.wants_more

    def end(self, error: BaseException | None) -> None:
        try:
            acks = self.feed.failed(error) if error is not None else self.feed.ended()
            if acks:
                self._put(acks)
        except Exception:
            self._fault()
        finally:
            self._ended()

    def _fault(self) -> None:
        log.exception("kvsmock failed sending the ACKs of a PutMedia upload into %s", self.feed.session.stream.arn)
        self.feed.session.ended = True


def _streamed_acks(session: PutMediaSession, req: ApiRequest, claim: ConnectionClaim, pump: BodyPump) -> Iterator[bytes]:
    """ACK lines sent while ``pump`` reads the body (server mode): by the thread reading it while the
    response waits (:mod:`.ack_outbox`), else by the response."""
    outbox = AckOutbox(req.chunk_sender)
    closing = threading.Event()
    sink = _FeedSink(
        UploadFeed(session, closing.is_set), lambda acks: outbox.put([_ack_line(a) for a in acks]), outbox.end
    )
    pump.start(sink)
    try:
        try:
            yield b""  # send the 200 and headers at once, as the service does
        finally:
            outbox.written()
        while True:
            work = outbox.take(max(0.0, IDLE_ACK_INTERVAL - (time.monotonic() - outbox.last_ack)))
            if work is None:
                if clock.now() - sink.last_data >= IDLE_CLOSE_SECONDS:
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
        pump.stop()
        session.finish()  # the deliveries it owes are made before the response ends
        claim.let_go()
