"""PutMedia's one driver: faults inside kvsmock, unreadable bodies, producer timestamps out of range,
idle close, and uploads cut off by a reset."""

from __future__ import annotations

import json
import logging
import socket
import threading

import pytest
import requests
from werkzeug.datastructures import Headers

from kvsmock import put_media, sample_mkv
from kvsmock.client import parse_acks

START = 1_700_000_000


@pytest.fixture(params=["in_process", "server"])
def kv(request):
    return request.getfixturevalue("kvs" if request.param == "in_process" else "kvs_server")


def _put(kv, name, media, **kw):
    return put_media(name, media=media, endpoint_url=kv.endpoint_url, session=kv.session(), **kw)


# ------------------------------------------------------------ producer timestamps
@pytest.mark.parametrize("header", ["1e400", "1e30", "1e20", "253402300800", "-1", "nan"])
def test_producer_start_timestamp_out_of_range_is_refused(kv, header):
    from botocore.exceptions import ClientError

    kv.kinesisvideo.create_stream(StreamName="ts", DataRetentionInHours=1)
    with pytest.raises(ClientError) as err:
        _put(kv, "ts", sample_mkv(duration_s=1, fragment_s=1, start=0), timecode_type="RELATIVE",
             producer_start_timestamp=header)
    assert err.value.response["Error"]["Code"] == "InvalidArgumentException"
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_fragment_producer_timestamps_past_year_9999_get_4007(kv):
    kv.kinesisvideo.create_stream(StreamName="late", DataRetentionInHours=1)
    # The header is in range; the fragments' timecodes push their timestamps out of it.
    acks = _put(kv, "late", sample_mkv(duration_s=2, fragment_s=1, start=1_000_000_000), timecode_type="RELATIVE",
                producer_start_timestamp="253402300000")
    assert [a["EventType"] for a in acks][-1] == "ERROR"
    assert acks[-1]["ErrorId"] == 4007 and acks[-1]["ErrorCode"] == "INVALID_PRODUCER_TIMESTAMP"
    assert "PERSISTED" not in [a["EventType"] for a in acks]
    assert kv.archived_media("late").list_fragments(StreamName="late")["Fragments"] == []  # boto3 parses the answer


# ------------------------------------------------------------ faults and reads
def _fail_storing_the_second_fragment(monkeypatch) -> None:
    """Plant a fault inside kvsmock: storing the second fragment of an upload raises."""
    from kvsmock.service.put_media import PutMediaSession

    real = PutMediaSession._store
    calls = []

    def failing(self, event):
        calls.append(event)
        if len(calls) == 2:
            raise RuntimeError("a kvsmock bug")
        return real(self, event)

    monkeypatch.setattr(PutMediaSession, "_store", failing)


def test_a_fault_inside_kvsmock_is_logged_and_answered_as_internal_error_in_process(kvs, monkeypatch, caplog):
    _fail_storing_the_second_fragment(monkeypatch)
    kvs.kinesisvideo.create_stream(StreamName="bug", DataRetentionInHours=1)
    with caplog.at_level(logging.ERROR, logger="kvsmock"):
        acks = _put(kvs, "bug", sample_mkv(duration_s=3, fragment_s=1, start=START))
    kinds = [a["EventType"] for a in acks]
    assert kinds.count("PERSISTED") == 1 and kinds[-1] == "ERROR", acks
    assert (acks[-1]["ErrorId"], acks[-1]["ErrorCode"]) == (5000, "INTERNAL_ERROR")
    assert any("a kvsmock bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)
    assert len(kvs.archived_media("bug").list_fragments(StreamName="bug")["Fragments"]) == 1


def test_a_fault_inside_kvsmock_is_the_same_on_the_server(monkeypatch, caplog):
    """The server path answers the same ACKs (a server app run in this process, so the fault can be planted)."""
    from kvsmock.server.run import build_server
    _fail_storing_the_second_fragment(monkeypatch)
    server = build_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        import boto3

        url = f"http://127.0.0.1:{server.server_port}"
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        session.client("kinesisvideo", endpoint_url=url).create_stream(StreamName="bug", DataRetentionInHours=1)
        with caplog.at_level(logging.ERROR, logger="kvsmock"):
            acks = put_media("bug", media=sample_mkv(duration_s=3, fragment_s=1, start=START), endpoint_url=url,
                             session=session)
        kinds = [a["EventType"] for a in acks if a["EventType"] != "IDLE"]
        assert kinds.count("PERSISTED") == 1 and kinds[-1] == "ERROR", acks
        assert (acks[-1]["ErrorId"], acks[-1]["ErrorCode"]) == (5000, "INTERNAL_ERROR")
        assert any(r.exc_info for r in caplog.records)
    finally:
        server.shutdown()
        server.server_close()
        server.app.close()


def test_a_body_that_cannot_be_read_is_the_clients_error(kvs):
    kvs.kinesisvideo.create_stream(StreamName="torn", DataRetentionInHours=1)
    media = sample_mkv(duration_s=3, fragment_s=1, start=START)

    def body():
        yield media[: len(media) // 2]
        raise ConnectionResetError("the producer went away")

    acks = _put(kvs, "torn", body())
    assert (acks[-1]["EventType"], acks[-1]["ErrorId"]) == ("ERROR", 4000)


# ------------------------------------------------------------ idle close and the connection slot
class _Body:
    """A request body whose pieces the test releases one at a time."""

    def __init__(self):
        self.pieces: list[bytes] = []
        self.ready = threading.Condition()
        self.done = False
        self.taken = 0

    def give(self, piece: bytes | None) -> None:
        with self.ready:
            if piece is None:
                self.done = True
            else:
                self.pieces.append(piece)
            self.ready.notify_all()

    def __iter__(self):
        while True:
            with self.ready:
                self.ready.wait_for(lambda: self.pieces or self.done)
                if not self.pieces:
                    return
                piece = self.pieces.pop(0)
                self.taken += 1
            yield piece


def test_idle_close_frees_the_slot_and_the_reader_feeds_nothing_more(kvs, monkeypatch):
    from kvsmock import clock
    from kvsmock.api import put_media as endpoint
    from kvsmock.api.moto_glue import backend_for
    from kvsmock.api.request import ApiRequest
    from kvsmock.media.ebml import CLUSTER

    monkeypatch.setattr(endpoint, "IDLE_ACK_INTERVAL", 0.01)
    kvs.kinesisvideo.create_stream(StreamName="idle", DataRetentionInHours=1)
    backend = backend_for("123456789012", "us-east-1")
    stream = backend.find_stream({"StreamName": "idle"})
    media = sample_mkv(duration_s=2, fragment_s=1, start=START)
    second = media.rindex(CLUSTER.to_bytes(4, "big"))
    body = _Body()
    req = ApiRequest(
        "POST", "http://127.0.0.1/putMedia",
        Headers({"x-amzn-stream-name": "idle", "x-amzn-fragment-timecode-type": "ABSOLUTE",
                 "x-amzn-producer-start-timestamp": str(START)}),
        body=body, server_base_url="http://127.0.0.1", streaming=True,
    )
    threads_before = set(threading.enumerate())
    response = endpoint.put_media(lambda a, r: backend, req)
    lines = iter(response.body)
    assert next(lines) == b""
    body.give(media[:second])  # the header and the first fragment
    got = []
    while not any(b'"PERSISTED"' in line for line in got):
        got.append(next(lines))
    clock.advance(endpoint.IDLE_CLOSE_SECONDS + 1)  # the producer has been quiet past the limit
    rest = list(lines)  # the response ends: the service closed the request
    assert all(b'"IDLE"' in line for line in rest if line)
    response.body.close()
    assert stream.put_media_connections == 0  # the request is over: the stream takes a new PutMedia at once
    reader = [t for t in set(threading.enumerate()) - threads_before if t.name == "kvsmock-putmedia"]
    assert len(reader) == 1 and reader[0].is_alive()  # still waiting for the body
    body.give(media[second:])  # late data reaches the old reader: nothing more is stored
    body.give(None)
    reader[0].join(10)
    assert not reader[0].is_alive()
    assert len(stream.store.snapshot()) == 1


# ------------------------------------------------------------ reset
def test_reset_ends_an_upload_in_progress(kvs_server):
    from kvsmock.media.ebml import CLUSTER

    kvs_server.kinesisvideo.create_stream(StreamName="reset", DataRetentionInHours=1)
    media = sample_mkv(duration_s=2, fragment_s=1, start=START)
    second = media.rindex(CLUSTER.to_bytes(4, "big"))
    with socket.create_connection(("127.0.0.1", kvs_server.port), timeout=15) as sock:
        sock.sendall(
            b"POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/kinesisvideo/aws4_request, "
            b"SignedHeaders=host, Signature=00\r\n"
            b"x-amzn-stream-name: reset\r\nx-amzn-fragment-timecode-type: ABSOLUTE\r\n"
            b"x-amzn-producer-start-timestamp: 1700000000\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        first = media[:second]
        sock.sendall(b"%x\r\n" % len(first) + first + b"\r\n")
        received = b""
        while b'"PERSISTED"' not in received:
            received += sock.recv(65536)
        requests.post(f"{kvs_server.endpoint_url}/_kvsmock/reset", timeout=10).raise_for_status()
        rest = media[second:]
        sock.sendall(b"%x\r\n" % len(rest) + rest + b"\r\n0\r\n\r\n")
        while b"\r\n0\r\n\r\n" not in received:
            piece = sock.recv(65536)
            if not piece:
                break
            received += piece
    body = received.split(b"\r\n\r\n", 1)[1]
    # ACK lines are newline-terminated JSON; one chunk may carry several (RECEIVED and PERSISTED together).
    events = [json.loads(line) for line in body.replace(b"\r\n", b"\n").split(b"\n") if line.startswith(b"{")]
    kinds = [e["EventType"] for e in events if e["EventType"] != "IDLE"]
    assert kinds.count("PERSISTED") == 1, events
    assert kinds[-1] == "ERROR" and events[-1]["ErrorId"] == 4008, events
    assert kvs_server.kinesisvideo.list_streams()["StreamInfoList"] == []
