"""The server's request log: ``GET /_kvsmock/requests`` and ``--log-requests``."""

from __future__ import annotations

import time

import pytest
import requests
from botocore.exceptions import ClientError

from conftest_plugin import KvsServer


@pytest.fixture
def logging_server():
    server = KvsServer(extra_args=["--log-requests"])
    yield server
    server.stop()


def test_log_requests_prints_a_line_per_request(logging_server):
    logging_server.kinesisvideo.create_stream(StreamName="printed")
    rule = logging_server.faults.add(operation="DescribeStream", error="ResourceInUseException", count=1)
    with pytest.raises(ClientError):
        logging_server.kinesisvideo.describe_stream(StreamName="printed")

    deadline = time.monotonic() + 10
    while "DescribeStream" not in logging_server.read_log() and time.monotonic() < deadline:
        time.sleep(0.05)  # the line is written as the answer goes out; the log file is read from outside
    lines = [line for line in logging_server.read_log().splitlines() if line.startswith("kvsmock request: ")]
    assert any("CreateStream printed -> 200" in line for line in lines)
    described = [line for line in lines if "DescribeStream printed" in line]
    assert len(described) == 1
    assert "-> 400 ResourceInUseException" in described[0] and f"[fault {rule}:" in described[0]


def test_requests_endpoint_limit_and_reset(kvs_server):
    for _ in range(3):
        kvs_server.kinesisvideo.list_streams()
    url = f"{kvs_server.endpoint_url}/_kvsmock/requests"
    assert len(requests.get(url, params={"limit": 2}, timeout=10).json()["requests"]) == 2
    assert requests.get(url, params={"limit": "many"}, timeout=10).status_code == 400
    kvs_server.reset()
    assert requests.get(url, timeout=10).json()["requests"] == []


def test_faults_endpoint_refuses_bad_rules_and_unknown_ids(kvs_server):
    url = f"{kvs_server.endpoint_url}/_kvsmock/faults"
    bad = requests.post(url, data="[1, 2]", timeout=10)
    assert bad.status_code == 400 and "JSON object" in bad.json()["Message"]
    bad = requests.post(url, json={"operation": "Nope", "error": "InternalFailure"}, timeout=10)
    assert bad.status_code == 400 and "unknown operation" in bad.json()["Message"]
    assert requests.delete(f"{url}/fault-999", timeout=10).status_code == 404
    added = requests.post(url, json={"operation": "*", "latency_ms": 1}, timeout=10).json()["id"]
    kvs_server.reset()
    assert requests.get(url, timeout=10).json()["faults"] == []
    assert added


def test_an_answer_is_logged_before_the_client_can_read_it():
    """A client that has its answer may read the log at once: the entry is in before the body goes out."""
    from werkzeug.test import EnvironBuilder

    from kvsmock.server.app import KvsServerApp
    from kvsmock.service.request_log import request_log

    app = KvsServerApp(sweep=False)
    environ = EnvironBuilder(path="/describeStream", method="POST", json={"StreamName": "never-made"}).get_environ()
    statuses = []
    body = app(environ, lambda status, headers: statuses.append(status))
    newest = request_log.recent(1)[0]  # nothing of the body iterated yet
    assert (newest["operation"], newest["resource"], newest["status"]) == ("DescribeStream", "never-made", 404)
    assert statuses == ["404 Not Found"] and b"not found" in b"".join(body)


def test_a_streamed_answer_is_closed_before_its_last_chunk():
    """werkzeug writes a chunked body's last chunk after the iterator ends: the callback runs first."""
    from kvsmock.server.app import _Body

    closed = []
    body = _Body(iter([b"one", b"two"]), lambda: closed.append(True))
    parts = iter(body)
    assert next(parts) == b"one" and next(parts) == b"two" and closed == []
    assert next(parts, None) is None and closed == [True]
    body.close()  # werkzeug closes it again after the last chunk: once is all the callback runs
    assert closed == [True]
