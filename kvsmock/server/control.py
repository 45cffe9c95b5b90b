"""The server's own control API, ``/_kvsmock/*``.

* ``GET /_kvsmock/health`` — ``{"status": "ready"}`` once the server answers;
* ``POST /_kvsmock/reset`` — moto's reset (every backend, kvsmock's
  included) and the clock back to the wall clock; with ``--data-dir`` the
  directory is emptied too;
* ``GET /_kvsmock/clock`` / ``POST /_kvsmock/clock`` with ``{"advance":
  seconds}``, ``{"set": epoch_seconds}`` or ``{"reset": true}`` — the
  emulator clock (:mod:`kvsmock.clock`); retention follows it at once;
* ``GET /_kvsmock/usage`` — the usage report (``account`` and ``region``
  narrow it, like :func:`kvsmock.usage`).
* ``GET /_kvsmock/console/`` — the web console's files
  (:mod:`kvsmock.server.console_files`).

Control request bodies are at most :data:`CONTROL_BODY_LIMIT` bytes (413
past that, never read whole).
"""

from __future__ import annotations

import json
import math
from typing import Any

from werkzeug.wrappers import Request

from .. import clock
from ..api.moto_glue import expire_all, reset_all
from ..api.request import ApiResponse
from ..api.usage_report import usage
from ..errors import KvsError
from ..service.persistence import persistence
from .console_files import console_response, is_console_path

#: Where the control API is.
PREFIX = "/_kvsmock/"
#: The largest body a control request may have.
CONTROL_BODY_LIMIT = 64 * 1024


def is_control_path(path: str) -> bool:
    return path.startswith(PREFIX)


def control_response(request: Request) -> ApiResponse:
    """The answer to one ``/_kvsmock/*`` request."""
    path = request.path
    if is_console_path(path):
        return console_response(request)
    if path == "/_kvsmock/health" and request.method in ("GET", "HEAD"):
        return _json(200, {"status": "ready"})
    if path == "/_kvsmock/reset" and request.method == "POST":
        reset_all()
        clock.reset()
        persistence().reset()
        return _json(200, {"status": "reset"})
    if path == "/_kvsmock/clock":
        if request.method == "GET":
            return _clock_state()
        if request.method == "POST":
            moved = _move_clock(request)
            persistence().clock_moved(clock.offset())
            expire_all()  # retention follows the clock at once
            return moved
    if path == "/_kvsmock/usage" and request.method == "GET":
        args = dict(request.args)
        account, region = args.pop("account", None), args.pop("region", None)
        try:
            return _json(200, usage(args, account_id=account, region=region))
        except KvsError as err:
            return _json(err.status, {"Message": err.message})
    return _json(404, {"Message": f"No control endpoint at {request.method} {path}."})


def _clock_state() -> ApiResponse:
    return _json(200, {"now": clock.now(), "offset": clock.offset()})


def _move_clock(request: Request) -> ApiResponse:
    body = _small_body(request)
    if body is None:
        return _json(413, {"Message": f"A control request body is at most {CONTROL_BODY_LIMIT} bytes."})
    try:
        payload = json.loads(body or b"{}")
        if not isinstance(payload, dict):
            raise ValueError
        if "set" in payload:
            clock.set_time(_finite(payload["set"]))
        elif "advance" in payload:
            clock.advance(_finite(payload["advance"]))
        elif payload.get("reset"):
            clock.reset()
        else:
            raise ValueError
    except (ValueError, TypeError, OverflowError) as err:
        detail = f" ({err})" if "clock can be moved" in str(err) else ""
        return _json(400, {"Message": 'Send {"advance": seconds}, {"set": epoch_seconds} or {"reset": true}' + detail + "."})
    return _clock_state()


def _small_body(request: Request) -> bytes | None:
    """A control request's body, or None if it is larger than :data:`CONTROL_BODY_LIMIT` (never read whole)."""
    length = request.content_length
    if length is not None and length > CONTROL_BODY_LIMIT:
        return None
    body = request.stream.read(CONTROL_BODY_LIMIT + 1)
    return None if len(body) > CONTROL_BODY_LIMIT else body


def _finite(value: Any) -> float:
    """A number of seconds; NaN or infinity would break every timestamp after it."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(value)
    return seconds


def _json(status: int, payload: dict) -> ApiResponse:
    return ApiResponse(status=status, headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode())
