"""Fault rules on the WebSocket connects (ConnectAsMaster, ConnectAsViewer), in both modes."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import InvalidStatus


def test_a_connect_fault_refuses_the_handshake_then_lets_the_retry_in(sig):
    arn = sig.channel()
    rule = sig.kv.faults.add(operation="ConnectAsViewer", stream=arn, error="ClientLimitExceededException", count=1)

    with pytest.raises(InvalidStatus) as refused:
        sig.connect(arn, "v1")
    assert refused.value.response.status_code == 400
    assert refused.value.response.headers["x-amzn-ErrorType"] == "ClientLimitExceededException"
    assert rule in json.loads(refused.value.response.body)["Message"]

    viewer = sig.connect(arn, "v1")  # the rule struck once: the viewer's retry gets in
    master = sig.connect(arn)  # another operation: untouched
    assert viewer and master

    connects = [e for e in sig.kv.requests() if e["operation"].startswith("Connect")][::-1]
    assert [(e["operation"], e["status"], e["fault"]) for e in connects] == [
        ("ConnectAsViewer", 400, rule),
        ("ConnectAsViewer", 101, None),
        ("ConnectAsMaster", 101, None),
    ]
    assert connects[0]["resource"] == arn


def test_connect_latency(sig):
    arn = sig.channel()
    sig.kv.faults.add(operation="ConnectAsMaster", latency_ms=300)
    started = time.monotonic()
    sig.connect(arn)
    assert time.monotonic() - started >= 0.3
