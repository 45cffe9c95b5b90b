"""The server's quota switch, ``/_kvsmock/quotas`` (one of the control endpoints of :mod:`.control`).

* ``GET /_kvsmock/quotas`` — ``{"mode": "service"}`` or ``{"mode": "off"}``;
* ``POST /_kvsmock/quotas`` with ``{"mode": "off"}`` (or ``"service"``) —
  switches every rate and connection-count limit off (or back on) for the
  whole server and answers the new mode; anything else is a 400 with a
  ``Message``.

The mode is a server setting, like ``--quotas`` which sets it at start:
``POST /_kvsmock/reset`` leaves it as it is.
"""

from __future__ import annotations

import json

from werkzeug.wrappers import Request

from ..api.request import ApiResponse
from ..service.quotas import MODES, quotas
from .control_body import CONTROL_BODY_LIMIT, json_answer, small_body

#: Where the switch is.
PATH = "/_kvsmock/quotas"


def quotas_response(request: Request) -> ApiResponse:
    """The answer to one ``/_kvsmock/quotas`` request (GET, HEAD or POST)."""
    if request.method in ("GET", "HEAD"):
        return json_answer(200, {"mode": quotas.mode})
    if request.method != "POST":
        return json_answer(405, {"Message": f"{PATH} answers GET and POST, not {request.method}."})
    body = small_body(request)
    if body is None:
        return json_answer(413, {"Message": f"A control request body is at most {CONTROL_BODY_LIMIT} bytes."})
    try:
        payload = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError):
        payload = None
    mode = payload.get("mode") if isinstance(payload, dict) else None
    if not isinstance(mode, str) or mode not in MODES:
        return json_answer(400, {"Message": 'Send {"mode": "service"} or {"mode": "off"}.'})
    quotas.set(mode)
    return json_answer(200, {"mode": quotas.mode})
