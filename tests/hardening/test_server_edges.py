"""Edges of the server's HTTP handling: chunk extensions, Expect: 100-continue, control bodies and clock bounds,
paths that are no KVS operation."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from kvsmock import sample_mkv
from kvsmock.client import parse_acks

START = 1_700_000_000


def _read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes or stops for 10 s."""
    sock.settimeout(10)
    data = b""
    while True:
        try:
            piece = sock.recv(65536)
        except socket.timeout:
            return data
        if not piece:
            return data
        data += piece
        if b"\r\n0\r\n\r\n" in data:  # end of a chunked response
            return data


def _dechunk(body: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return out
        out += body[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


def test_put_media_accepts_chunk_extensions_and_answers_one_100_continue(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="ext", DataRetentionInHours=1)
    media = sample_mkv(duration_s=2, fragment_s=1, start=START)
    with socket.create_connection(("127.0.0.1", kvs_server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/kinesisvideo/aws4_request, "
            b"SignedHeaders=host, Signature=00\r\n"
            b"x-amzn-stream-name: ext\r\nx-amzn-fragment-timecode-type: ABSOLUTE\r\n"
            b"x-amzn-producer-start-timestamp: 1700000000\r\n"
            b"Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head == b"HTTP/1.1 100 Continue\r\n\r\n"
        for i in range(0, len(media), 4096):
            piece = media[i : i + 4096]
            sock.sendall(b"%x;piece=%d\r\n" % (len(piece), i) + piece + b"\r\n")
        sock.sendall(b"0;last=1\r\n\r\n")
        response = _read_response(sock)
    status, _, rest = response.partition(b"\r\n")
    assert status == b"HTTP/1.1 200 OK", response[:200]
    assert b"100 Continue" not in response  # only the one before the body
    acks = parse_acks(_dechunk(rest.split(b"\r\n\r\n", 1)[1]).decode())
    assert [a["EventType"] for a in acks].count("PERSISTED") == 2, acks


@pytest.mark.parametrize(
    "payload", [{"set": -1e12}, {"advance": 1e300}, {"set": 1e400}, {"set": 253_402_300_800}, {"advance": "soon"}]
)
def test_clock_refuses_times_clients_cannot_parse(kvs_server, payload):
    before = requests.get(f"{kvs_server.endpoint_url}/_kvsmock/clock", timeout=10).json()["offset"]
    r = requests.post(f"{kvs_server.endpoint_url}/_kvsmock/clock", data=json.dumps(payload), timeout=10)
    assert r.status_code == 400
    assert requests.get(f"{kvs_server.endpoint_url}/_kvsmock/clock", timeout=10).json()["offset"] == before
    kvs_server.kinesisvideo.create_stream(StreamName="after", DataRetentionInHours=1)
    assert kvs_server.kinesisvideo.describe_stream(StreamName="after")["StreamInfo"]["CreationTime"]


def test_clock_moves_within_the_range(kvs):
    from kvsmock import clock

    with pytest.raises(ValueError):
        clock.set_time(-1)
    assert clock.set_time(4_000_000_000) == pytest.approx(4_000_000_000, abs=5)


def test_control_body_is_bounded(kvs_server):
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    r = requests.post(f"{kvs_server.endpoint_url}/_kvsmock/clock", data=big, timeout=30)
    assert r.status_code == 413
    assert requests.get(f"{kvs_server.endpoint_url}/_kvsmock/health", timeout=10).ok


@pytest.mark.parametrize("path", ["/CreateStream", "/createStream/", "/DESCRIBESTREAM", "/noSuchOperation"])
def test_unsigned_calls_to_paths_that_are_no_operation(kvs_server, path):
    r = requests.post(f"{kvs_server.endpoint_url}{path}", json={"StreamName": "x"}, timeout=10)
    assert r.status_code == 404
    assert r.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert "Message" in r.json()
