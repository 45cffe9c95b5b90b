"""``/_kvsmock/faults``: the fault rules (:mod:`kvsmock.service.faults`) over HTTP.

* ``POST /_kvsmock/faults`` with a JSON rule adds it: ``{"id": "fault-1"}``
  (400 with a ``Message`` saying what is wrong with a bad rule);
* ``GET /_kvsmock/faults`` lists the rules, each with ``struck``;
* ``DELETE /_kvsmock/faults/{id}`` removes one (404 if there is none);
* ``DELETE /_kvsmock/faults`` removes them all.
"""

from __future__ import annotations

import json

from werkzeug.wrappers import Request

from ..api.request import ApiResponse
from ..service.faults import faults
from .control_body import json_answer, small_body

PATH = "/_kvsmock/faults"


def is_faults_path(path: str) -> bool:
    return path == PATH or path.startswith(PATH + "/")


def faults_response(request: Request) -> ApiResponse:
    """The answer to one request under ``/_kvsmock/faults``."""
    rule_id = request.path[len(PATH) + 1 :] if request.path.startswith(PATH + "/") else None
    if rule_id is None and request.method == "GET":
        return json_answer(200, {"faults": faults.list()})
    if rule_id is None and request.method == "POST":
        return _add(request)
    if request.method == "DELETE":
        if rule_id is None:
            faults.clear()
            return json_answer(200, {"status": "cleared"})
        try:
            faults.remove(rule_id)
        except KeyError:
            return json_answer(404, {"Message": f"There is no fault rule {rule_id}."})
        return json_answer(200, {"status": "removed", "id": rule_id})
    return json_answer(405, {"Message": f"{request.method} {request.path}: use GET, POST or DELETE {PATH}, DELETE {PATH}/ID."})


def _add(request: Request) -> ApiResponse:
    body = small_body(request)
    if body is None:
        return json_answer(413, {"Message": "A fault rule is at most 64 KiB of JSON."})
    try:
        rule = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        return json_answer(400, {"Message": "A fault rule is a JSON object."})
    if not isinstance(rule, dict):
        return json_answer(400, {"Message": "A fault rule is a JSON object."})
    try:
        rule_id = faults.add(**rule)
    except ValueError as err:
        return json_answer(400, {"Message": f"Bad fault rule: {err}."})
    return json_answer(200, {"id": rule_id})
