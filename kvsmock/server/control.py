"""The server's own control API, ``/_kvsmock/*``.

* ``GET /_kvsmock/health`` — ``{"status": "ready"}`` once the server answers;
* ``POST /_kvsmock/reset`` — moto's reset (every backend, kvsmock's
  included) and the clock back to the wall clock; with ``--data-dir`` the
  directory is emptied too;
* ``GET /_kvsmock/clock`` / ``POST /_kvsmock/clock`` with ``{"advance":
  seconds}``, ``{"set": epoch_seconds}`` or ``{"reset": true}`` — the
  emulator clock (:mod:`kvsmock.clock`); retention follows it at once;
* ``GET /_kvsmock/usage`` — the usage report (``account`` and ``region``
  narrow it, like :func:`kvsmock.usage`);
* ``/_kvsmock/faults`` — fault rules (:mod:`kvsmock.server.fault_control`);
* ``/_kvsmock/quotas`` — the service's quotas on or off (:mod:`kvsmock.server.quota_control`);
* ``GET /_kvsmock/requests?limit=N`` — the recent-request log, newest first
  (:mod:`kvsmock.service.request_log`); reset empties it and the fault rules.
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
from ..service.faults import faults
from ..service.request_log import request_log
from .console_files import console_response, is_console_path
from .control_body import CONTROL_BODY_LIMIT, json_answer, small_body
from .fault_control import faults_response, is_faults_path
from .quota_control import PATH as QUOTAS_PATH
from .quota_control import quotas_response

#: Where the control API is.
PREFIX = "/_kvsmock/"


def is_control_path(path: str) -> bool:
    return path.startswith(PREFIX)


def control_response(request: Request) -> ApiResponse:
    """The answer to one ``/_kvsmock/*`` request."""
    path = request.path
    if is_console_path(path):
        return console_response(request)
    if path == "/_kvsmock/health" and request.method in ("GET", "HEAD"):
        return json_answer(200, {"status": "ready"})
    if path == "/_kvsmock/reset" and request.method == "POST":
        reset_all()
        clock.reset()
        persistence().reset()
        faults.clear()
        request_log.clear()
        return json_answer(200, {"status": "reset"})
    if is_faults_path(path):
        return faults_response(request)
    if path == QUOTAS_PATH:
        return quotas_response(request)
    if path == "/_kvsmock/requests" and request.method == "GET":
        return _recent_requests(request)
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
            return json_answer(200, usage(args, account_id=account, region=region))
        except KvsError as err:
            return json_answer(err.status, {"Message": err.message})
    return json_answer(404, {"Message": f"No control endpoint at {request.method} {path}."})


def _recent_requests(request: Request) -> ApiResponse:
    raw = request.args.get("limit")
    if raw is None:
        return json_answer(200, {"requests": request_log.recent()})
    if not raw.isdigit():
        return json_answer(400, {"Message": f"limit must be a whole number, 0 or more, not {raw[:32]!r}."})
    return json_answer(200, {"requests": request_log.recent(int(raw))})


def _clock_state() -> ApiResponse:
    return json_answer(200, {"now": clock.now(), "offset": clock.offset()})


def _move_clock(request: Request) -> ApiResponse:
    body = small_body(request)
    if body is None:
        return json_answer(413, {"Message": f"A control request body is at most {CONTROL_BODY_LIMIT} bytes."})
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
        return json_answer(400, {"Message": 'Send {"advance": seconds}, {"set": epoch_seconds} or {"reset": true}' + detail + "."})
    return _clock_state()


def _finite(value: Any) -> float:
    """A number of seconds; NaN or infinity would break every timestamp after it."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(value)
    return seconds
