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
from typing import Any

from ..errors import (
    InternalFailure,
    KvsError,
    NotImplementedByKvsmock,
    SerializationException,
    UnknownOperationException,
)
from ..service.validation import service_model, validate
from .routes import HANDLERS, RAW_ROUTES
from .request import ApiRequest, ApiResponse, BackendLookup

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
    """Answer one KVS request; never raises."""
    try:
        path = req.path
        raw = RAW_ROUTES.get(path)
        if raw is not None:
            return raw(backend_for, req)
        route = ROUTES.get(path)
        if route is None:
            raise UnknownOperationException(f"No KVS operation is served at {path}.")
        if req.method != "POST":
            raise UnknownOperationException(f"{path} only answers POST.")
        service, operation = route
        params = parse_json_body(req)
        validate(service, operation, params)
        handler = HANDLERS.get(operation)
        if handler is None:
            raise NotImplementedByKvsmock(
                f"kvsmock does not emulate {operation} yet; the README lists what is emulated."
            )
        result = handler(backend_for(req.account_id, req.region), req, params)
        if isinstance(result, ApiResponse):
            result.headers.setdefault("x-amzn-RequestId", req.request_id)
            return result
        return json_response(result, req.request_id)
    except KvsError as err:
        return error_response(err, req.request_id)
    except Exception:  # a kvsmock bug: answer like the service would, log the detail
        log.exception("kvsmock failed on %s %s", req.method, req.url)
        return error_response(InternalFailure("kvsmock hit an internal error; see its log."), req.request_id)
