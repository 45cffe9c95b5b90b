"""Uploads read by the shared readers: bytes pushed as they arrive, the end said once, stop honoured."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

import pytest
import requests
from helpers.producers import RawPutMedia, fragment_media, split_at_clusters

from kvsmock.server import upload_readers as readers_module
from kvsmock.server.chunked_body import ChunkedBodyError
from kvsmock.server.upload_readers import UploadReaders
from kvsmock.service.blocking_waits import waiting_on_disk

pytestmark = pytest.mark.skipif(readers_module.upload_readers() is None, reason="the shared readers need epoll")


class Sink:
    """Records what a pump pushes; ``want`` says how many pieces it takes; ``hold`` blocks the next piece."""

    def __init__(self, want: int | None = None):
        self.data = bytearray()
        self.pieces = 0
        self.ends: list[BaseException | None] = []
        self.want = want
        self.hold: threading.Event | None = None
        self.after_hold = lambda: None
        self.in_piece = threading.Event()
        self.changed = threading.Condition()

    def piece(self, data: bytes) -> bool:
        self.in_piece.set()
        if self.hold is not None:
            assert self.hold.wait(10)
            self.after_hold()
        with self.changed:
            self.data += data
            self.pieces += 1
            self.changed.notify_all()
        if isinstance(self.want, Exception):
            raise self.want
        return self.want is None or self.pieces < self.want

    def end(self, error: BaseException | None) -> None:
        with self.changed:
            self.ends.append(error)
            self.changed.notify_all()

    def until(self, condition) -> None:
        with self.changed:
            assert self.changed.wait_for(condition, 10)


@pytest.fixture
def readers():
    return UploadReaders(workers=2)


@contextlib.contextmanager
def socket_connection():
    """(the server's socket and its buffered reader, the client's socket), closed at the end."""
    server, client = socket.socketpair()
    with server, client:
        yield server, server.makefile("rb", 64 * 1024), client


@pytest.fixture
def connection():
    with socket_connection() as made:
        yield made


def started(readers, connection, sink, head_and_more: bytes = b""):
    server, rfile, client = connection
    client.sendall(b"POST /putMedia HTTP/1.1\r\n\r\n" + head_and_more)
    while rfile.readline() != b"\r\n":  # werkzeug has read the head (and maybe buffered some of the body)
        pass
    pump = readers.pump(server, rfile)
    pump.start(sink)
    return pump


def test_the_body_arrives_in_pieces_and_ends_once(readers, connection):
    sink = Sink()
    pump = started(readers, connection, sink, b"5\r\nhel")  # the reader holds part of the body already
    client = connection[2]
    for part in (b"lo\r", b"\n3;ext=1\r\nabc", b"\r\n0\r\n", b"X-Trailer: 1\r\n\r\n"):
        client.sendall(part)
    sink.until(lambda: sink.ends)
    assert bytes(sink.data) == b"helloabc" and sink.ends == [None]
    assert pump.received == 8
    pump.stop()  # already over: returns at once
    assert connection[0].gettimeout() is None  # the socket is the connection's again, blocking


def test_a_connection_closed_inside_the_body_is_an_error_but_in_its_trailers_the_end(readers, connection):
    sink = Sink()
    started(readers, connection, sink, b"5\r\nab")
    connection[2].shutdown(socket.SHUT_WR)
    sink.until(lambda: sink.ends)
    assert isinstance(sink.ends[0], ConnectionError) and bytes(sink.data) == b"ab"

    with socket_connection() as second:
        in_trailers = Sink()
        client = second[2]
        started(readers, second, in_trailers, b"1\r\nx\r\n0\r\nX-T: 1\r\n")
        client.shutdown(socket.SHUT_WR)
        in_trailers.until(lambda: in_trailers.ends)
        assert in_trailers.ends == [None] and bytes(in_trailers.data) == b"x"


def test_bad_chunking_ends_the_body_with_the_error(readers, connection):
    sink = Sink()
    started(readers, connection, sink, b"2\r\nok\r\nzz\r\n")
    sink.until(lambda: sink.ends)
    assert bytes(sink.data) == b"ok" and isinstance(sink.ends[0], ChunkedBodyError)


def test_a_sink_that_wants_no_more_is_pushed_no_more(readers, connection):
    sink = Sink(want=1)
    started(readers, connection, sink, b"1\r\na\r\n1\r\nb\r\n")
    sink.until(lambda: sink.ends)
    assert bytes(sink.data) == b"a" and sink.ends == [None]


def test_a_fault_pushing_is_logged_and_ends_the_body(readers, connection, caplog):
    sink = Sink(want=RuntimeError("kvsmock bug"))
    with caplog.at_level(logging.ERROR, logger="kvsmock.server"):
        started(readers, connection, sink, b"1\r\na\r\n")
        sink.until(lambda: sink.ends)
    assert isinstance(sink.ends[0], RuntimeError)
    assert "kvsmock failed reading an upload" in caplog.text and "Traceback" in caplog.text


def test_stop_while_waiting_for_bytes_leaves_the_socket_to_the_connection(readers, connection):
    sink = Sink()
    pump = started(readers, connection, sink, b"1\r\na\r\n")
    sink.until(lambda: sink.pieces == 1)
    pump.stop()
    server, rfile, client = connection
    client.sendall(b"1\r\nb\r\n")
    assert rfile.read(6) == b"1\r\nb\r\n"  # the connection's own reader has them; the sink never saw them
    assert bytes(sink.data) == b"a" and sink.ends == []


def test_stop_during_a_piece_returns_once_the_sink_is_done_with_it(readers, connection):
    sink = Sink()
    sink.hold = threading.Event()
    order: list[str] = []
    sink.after_hold = lambda: order.append("piece done")
    pump = started(readers, connection, sink, b"1\r\na\r\n1\r\nb\r\n")
    assert sink.in_piece.wait(10)
    stopping = threading.Event()
    stopper = threading.Thread(target=lambda: (stopping.set(), pump.stop(), order.append("stopped")))
    stopper.start()
    assert stopping.wait(10)
    sink.hold.set()
    stopper.join(10)
    assert order == ["piece done", "stopped"]
    assert sink.pieces == 1 and sink.ends == []  # nothing pushed after the stop, and no end


class DiskSink(Sink):
    """A sink whose pieces wait on the disk (as a fragment's fsync and commit do) while ``disk``, for as long as
    ``hold`` says."""

    disk = True

    def piece(self, data: bytes) -> bool:
        if not self.disk:
            return super().piece(data)
        with waiting_on_disk():
            return super().piece(data)


def test_while_a_worker_waits_on_the_disk_another_reads_in_its_place():
    readers = UploadReaders(workers=1)
    waiting, other = DiskSink(), DiskSink()
    waiting.hold = threading.Event()
    other.disk = False
    with socket_connection() as a, socket_connection() as b:
        client_a, client_b = a[2], b[2]
        started(readers, a, waiting, b"1\r\na\r\n")
        assert waiting.in_piece.wait(10)  # the only worker waits on the disk
        started(readers, b, other, b"1\r\nb\r\n")
        other.until(lambda: other.pieces == 1)  # read by a thread standing in for it
        waiting.hold.set()
        waiting.until(lambda: waiting.pieces == 1)
        assert readers.wait_threads(live=2, spares=1, timeout=10)  # one reads; the other is parked

        other.hold, other.disk = threading.Event(), True
        waiting.hold, waiting.disk = None, False
        other.in_piece.clear()
        client_b.sendall(b"1\r\nc\r\n")
        assert other.in_piece.wait(10)  # now b's worker waits on the disk: the parked one stands in
        assert readers.wait_threads(live=2, spares=0, timeout=10)
        client_a.sendall(b"1\r\nd\r\n")
        waiting.until(lambda: waiting.pieces == 2)
        other.hold.set()
        other.until(lambda: other.pieces == 2)
        assert readers.wait_threads(live=2, spares=1, timeout=10)  # no third thread was made
    assert bytes(waiting.data) == b"ad" and bytes(other.data) == b"bc"


def test_a_stand_in_past_the_spares_kept_ends_once_the_wait_is_over(connection):
    readers = UploadReaders(workers=1, spares=0)
    sink = DiskSink()
    sink.hold = threading.Event()
    started(readers, connection, sink, b"1\r\na\r\n")
    assert sink.in_piece.wait(10)
    assert readers.wait_threads(live=2, spares=0, timeout=10)  # one waits, one stands in
    sink.hold.set()
    assert readers.wait_threads(live=1, spares=0, timeout=10)  # no spare is kept: the extra thread ended
    connection[2].sendall(b"1\r\nb\r\n0\r\n\r\n")
    sink.until(lambda: sink.ends)
    assert bytes(sink.data) == b"ab" and sink.ends == [None]


def test_a_put_media_cut_anywhere_is_stored_and_its_bytes_counted(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="cut-anywhere", DataRetentionInHours=1)
    header, clusters = split_at_clusters(fragment_media(duration_s=3))
    producer = RawPutMedia(kvs_server.port, "cut-anywhere")
    parts = [header, *clusters]
    wire = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
    try:
        for start in range(0, 400, 7):  # size lines, CRLFs and data split between sends
            producer.sock.sendall(wire[start:min(start + 7, 400)])
        producer.sock.sendall(wire[400:])
        events = producer.read_until(lambda got: sum(e["EventType"] == "PERSISTED" for e in got) == len(clusters))
        producer.read_until(lambda got: producer.closed)  # the response has ended: it is in the request log
    finally:
        producer.close()
    assert [e["EventType"] for e in events] == ["BUFFERING", "RECEIVED", "PERSISTED"] * len(clusters)
    logged = requests.get(f"{kvs_server.endpoint_url}/_kvsmock/requests", timeout=10).json()["requests"]
    put = [entry for entry in logged if entry["operation"] == "PutMedia" and "cut-anywhere" in (entry["resource"] or "")]
    assert [entry["bytes_in"] for entry in put] == [sum(map(len, parts))]


def test_sockets_ready_together_are_read_in_order_and_one_waiting_on_the_disk_holds_up_none_of_the_others():
    readers = UploadReaders(workers=1)
    read: list[str] = []

    class Logged(DiskSink):
        def __init__(self, name: str):
            super().__init__()
            self.name, self.disk = name, False

        def piece(self, data: bytes) -> bool:
            read.append(f"{self.name}{data.decode()}")
            return super().piece(data)

    first, second, third, busy = Logged("1"), Logged("2"), Logged("3"), Logged("busy")
    with (socket_connection() as c1, socket_connection() as c2, socket_connection() as c3,
          socket_connection() as c4):
        for connection, sink in ((c1, first), (c2, second), (c3, third)):
            started(readers, connection, sink, b"1\r\na\r\n")
        busy.hold = threading.Event()
        started(readers, c4, busy, b"1\r\nx\r\n")
        assert busy.in_piece.wait(10)  # the only worker has read the other three (first in, first read) and waits
        first.hold, first.disk = threading.Event(), True
        for connection in (c1, c2, c3):
            connection[2].sendall(b"1\r\nb\r\n")  # the three turn ready together, in this order
        busy.hold.set()  # the three are read in the order they turned ready; the first of them waits on the disk
        third.until(lambda: third.pieces == 2)  # the other two were read meanwhile, by a thread standing in
        assert first.pieces == 1 and second.pieces == 2
        first.hold.set()
        first.until(lambda: first.pieces == 2)
    assert read == ["1a", "2a", "3a", "busyx", "1b", "2b", "3b"]
