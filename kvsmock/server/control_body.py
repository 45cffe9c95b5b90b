"""Reading and answering the small JSON bodies of the ``/_kvsmock/*`` control API."""

from __future__ import annotations

import json

from werkzeug.wrappers import Request

from ..api.request import ApiResponse

#: The largest body a control request may have.
CONTROL_BODY_LIMIT = 64 * 1024


def small_body(request: Request) -> bytes | None:
    """A control request's body, or None if it is larger than :data:`CONTROL_BODY_LIMIT` (never read whole)."""
    length = request.content_length
    if length is not None and length > CONTROL_BODY_LIMIT:
        return None
    body = request.stream.read(CONTROL_BODY_LIMIT + 1)
    return None if len(body) > CONTROL_BODY_LIMIT else body


def json_answer(status: int, payload: object) -> ApiResponse:
    """A control answer: ``payload`` as JSON."""
    return ApiResponse(status=status, headers={"Content-Type": "application/json"}, body=json.dumps(payload).encode())
