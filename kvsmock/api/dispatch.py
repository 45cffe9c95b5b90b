"""Routing and response shaping for every KVS endpoint.

Every KVS API is a POST to a fixed path, unique across the five services, so
a request is routed by its path alone: :data:`ROUTES` (read from botocore's
models) names the operation, :mod:`kvsmock.api.routes` its handler. A
handler returns a dict (sent as JSON) or an :class:`ApiResponse` (for
streamed media); a :class:`KvsError` becomes the service's error shape.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from .. import clock

from ..errors import (
    InternalFailure,
    KvsError,
    NotImplementedByKvsmock,
    SerializationException,
    UnknownOperationException,
)
from ..service.faults import Strike, faults, fold, operations
from ..service.playback.tokens import token_scope
from ..service.quotas import admit_call
from ..service.request_log import RequestEntry, request_log
from ..service.validation import service_model, validate
from .routes import HANDLERS, RAW_ROUTES
from .request import ApiRequest, ApiResponse, BackendLookup, BodyPump

log = logging.getLogger("kvsmock")

SERVICES = (
    "kinesisvideo",
    "kinesis-video-media",
    "kinesis-video-archived-media",
    "kinesis-video-signaling",
    "kinesis-video-webrtc-storage",
)


def _route_table() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for service in SERVICES:
        model = service_model(service)
        for op in model.operation_names:
            table[model.operation_model(op).http["requestUri"]] = (service, op)
    return table


#: Path -> (service, operation), from botocore's models of the five services.
ROUTES = _route_table()


def is_kvs_path(path: str) -> bool:
    return path in ROUTES or path in RAW_ROUTES


def looks_like_kvs_path(path: str) -> bool:
    """A KVS path spelled another way (``/CreateStream``, ``/createStream/``): a KVS call gone wrong."""
    folded = path.rstrip("/").lower()
    return any(folded == known.lower() for known in (*ROUTES, *RAW_ROUTES))


def error_response(err: KvsError, request_id: str) -> ApiResponse:
    return ApiResponse(
        status=err.status,
        headers={
            "Content-Type": "application/json",
            "x-amzn-ErrorType": err.error_type,
            "x-amzn-RequestId": request_id,
        },
        body=json.dumps(err.body()).encode(),
    )


def json_response(payload: dict[str, Any], request_id: str) -> ApiResponse:
    return ApiResponse(
        status=200,
        headers={"Content-Type": "application/json", "x-amzn-RequestId": request_id},
        body=json.dumps(payload).encode(),
    )


def parse_json_body(req: ApiRequest) -> dict[str, Any]:
    raw = req.read_body()
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise SerializationException("The request body is not valid JSON.") from None
    except RecursionError:  # nesting deeper than the JSON parser goes
        raise SerializationException("The request body nests too deeply.") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object.")
    return params


def handle(req: ApiRequest, backend_for: BackendLookup) -> ApiResponse:
    """Answer one KVS request, applying the fault rule that strikes it, and log it when it is over; never raises."""
    call = Call.of(req)
    received = _count_received(req)
    response = _answer(req, backend_for, call)
    return _logged(response, call, received)


@dataclass
class Call:
    """What the request log and the fault rules know of one request."""

    operation: str
    account: str
    region: str
    #: The stream or channel names and ARNs the request gives.
    names: tuple[str, ...] = ()
    strike: Strike | None = None
    time: float = 0.0
    started: float = 0.0

    @classmethod
    def of(cls, req: ApiRequest) -> "Call":
        path = req.path
        route = ROUTES.get(path)
        operation = route[1] if route else operations().get(fold(path), path)
        return cls(operation, req.account_id, req.region, time=clock.now(), started=time.perf_counter())

    @property
    def resource(self) -> str | None:
        return self.names[0] if self.names else None


def _answer(req: ApiRequest, backend_for: BackendLookup, call: Call) -> ApiResponse:
    try:
        path = req.path
        raw = RAW_ROUTES.get(path)
        if raw is not None:
            _name_raw_target(req, backend_for, call)
            _strike(req, call)
            return raw(backend_for, req)
        route = ROUTES.get(path)
        if route is None:
            raise UnknownOperationException(f"No KVS operation is served at {path}.")
        if req.method != "POST":
            raise UnknownOperationException(f"{path} only answers POST.")
        service, operation = route
        params = parse_json_body(req)
        call.names = tuple(str(params[k]) for k in _TARGET_MEMBERS if isinstance(params.get(k), str))
        _strike(req, call)
        validate(service, operation, params)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise NotImplementedByKvsmock(
                f"kvsmock does not emulate {operation} yet; the README lists what is emulated."
            )
        backend = backend_for(req.account_id, req.region)
        admit_call(backend, operation, params)
        result = handler(backend, req, params)
        if isinstance(result, ApiResponse):
            result.headers.setdefault("x-amzn-RequestId", req.request_id)
            return result
        return json_response(result, req.request_id)
    except KvsError as err:
        return error_response(err, req.request_id)
    except Exception:  # a kvsmock bug: answer like the service would, log the detail
        log.exception("kvsmock failed on %s %s", req.method, req.url)
        return error_response(InternalFailure("kvsmock hit an internal error; see its log."), req.request_id)


#: Request members that name the stream or signaling channel a call is about.
_TARGET_MEMBERS = ("StreamName", "StreamARN", "ChannelName", "ChannelARN", "ResourceARN")


def _name_raw_target(req: ApiRequest, backend_for: BackendLookup, call: Call) -> None:
    """The stream of a PutMedia (its headers) or of an HLS/DASH resource (its session token)."""
    if call.operation == "PutMedia":
        call.names = tuple(v for v in (req.headers.get("x-amzn-stream-name"), req.headers.get("x-amzn-stream-arn")) if v)
        return
    token = req.query.get("SessionToken")
    scope = token_scope(token)
    if scope is None:
        return
    call.account, call.region = scope
    try:
        session = backend_for(*scope).sessions.get(token)
    except KvsError:  # the handler answers for a token that is no longer good
        return
    call.names = (session.stream_name, session.stream_arn)


def _strike(req: ApiRequest, call: Call) -> None:
    """Apply the fault rule that strikes this request, if one does: its delay, then its error.

    PutMedia and GetMedia spend a rule's delay before each fragment and
    apply ``after_fragments`` as they go (``req.fault``), unless the rule
    answers with an error at once.
    """
    strike = faults.strike(call.operation, call.account, call.region, call.names)
    if strike is None:
        return
    call.strike = req.fault = strike
    if strike.latency_s and (strike.error is not None or not strike.per_fragment):
        time.sleep(strike.latency_s)
    if strike.error is not None:
        raise strike.error


class _Received:
    """Bytes of the request body read so far (by the handler, or by the server's pump for it)."""

    def __init__(self, pump: BodyPump | None = None) -> None:
        self.pulled = 0
        self._pump = pump

    @property
    def count(self) -> int:
        return self.pulled + (self._pump.received if self._pump is not None else 0)

    def pieces(self, body: Iterable[bytes]) -> Iterator[bytes]:
        for piece in body:
            self.pulled += len(piece)
            yield piece


def _count_received(req: ApiRequest) -> _Received:
    received = _Received(req.body_pump)
    if isinstance(req.body, (bytes, bytearray)):
        received.pulled = len(req.body)
    else:
        req.body = received.pieces(req.body)
    return received


def _logged(response: ApiResponse, call: Call, received: _Received) -> ApiResponse:
    """``response``, logged in the request log when its sender closes it (or abandons it).

    The server closes a response before the client can have all of it (:class:`kvsmock.server.app._Body`),
    so a client that has its answer finds it in the log.
    """
    sent = [0]
    if isinstance(response.body, (bytes, bytearray)):
        sent[0] = len(response.body)
    else:
        response.body = _counted(response.body, sent)
    on_close, done = response.on_close, threading.Event()

    def close() -> None:
        if done.is_set():
            return
        done.set()
        try:
            if on_close is not None:
                on_close()
        finally:
            request_log.add(RequestEntry.answered(
                time=call.time, started=call.started, account=call.account, region=call.region,
                operation=call.operation, resource=call.resource, status=response.status,
                error=response.headers.get("x-amzn-ErrorType"), bytes_in=received.count, bytes_out=sent[0],
                strike=call.strike,
            ))

    response.on_close = close
    return response


def _counted(parts: Iterable[bytes], sent: list[int]) -> Iterator[bytes]:
    """``parts``, counting their bytes into ``sent[0]``; closing it closes ``parts``."""
    it = iter(parts)
    try:
        for part in it:
            sent[0] += len(part)
            yield part
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()
