"""When a live GetMedia ends, and what a live reader gets while it runs (server mode).

* A caught-up GetMedia keeps tailing while a PutMedia connection is open on
  the stream and ends the idle timeout after it has caught up with none open
  (3 s by default; the ``kvs_server`` fixture sets 1 s).
* A GetMedia whose client has gone frees its connection slot at once.
* ``read_fragments`` over boto3's ``Payload`` yields each fragment as soon as
  it has arrived.

The producers are raw sockets writing the chunked PutMedia body by hand
(``RawPutMedia`` from tests/helpers).
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
import time

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest_plugin import KvsServer
from helpers.producers import RawPutMedia, fragment_media, has_ack, split_at_clusters
from kvsmock import put_media, read_fragments, sample_mkv



#: The producer timestamp of fragment 0 of a RawPutMedia upload (RELATIVE timecodes from 0).
START = 1_700_000_000
_names = itertools.count(1)


@pytest.fixture(scope="module")
def default_server():
    """A server started without --get-media-idle-timeout: the default idle behaviour."""
    server = KvsServer(get_media_idle_timeout=None)
    yield server
    server.stop()


def _new_stream(server: KvsServer) -> str:
    name = f"cam-{next(_names)}"
    server.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=1)
    return name


class FragmentTap(threading.Thread):
    """A consumer running ``read_fragments`` over a GetMedia Payload; an Event per fragment yielded."""

    def __init__(self, payload, expected: int = 16):
        super().__init__(daemon=True)
        self.payload = payload
        self.fragments: list = []
        self.arrived = [threading.Event() for _ in range(expected)]
        self.ended = threading.Event()
        self.ended_at: float | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for fragment in read_fragments(self.payload):
                self.fragments.append(fragment)
                self.arrived[len(self.fragments) - 1].set()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            self.ended_at = time.monotonic()
            self.ended.set()

    def wait_for(self, count: int, timeout: float = 15.0) -> None:
        """Block until the reader has yielded ``count`` fragments."""
        assert self.arrived[count - 1].wait(timeout), (
            f"the reader yielded {len(self.fragments)} fragments, wanted {count} (ended: {self.ended.is_set()}, "
            f"error: {self.error!r})"
        )


def _get_media(server: KvsServer, stream: str, selector: str = "EARLIEST", client=None):
    client = client or server.media(stream)
    return client.get_media(StreamName=stream, StartSelector={"StartSelectorType": selector})


def _finish(conn: RawPutMedia) -> float:
    """End the upload, read its last ACKs; returns when the producer saw the response end."""
    conn.finish()
    conn.read_until(lambda events: conn.closed, timeout=15)
    return time.monotonic()


# ------------------------------------------------------------ the default idle end
def test_round_trip_payload_read_returns_on_a_default_server(default_server):
    """The README round trip: put_media() (ABSOLUTE) of sample_mkv(), then GetMedia EARLIEST and Payload.read()."""
    name = _new_stream(default_server)
    before = time.time()
    acks = put_media(name, media=sample_mkv(duration_s=6, fragment_s=2), endpoint_url=default_server.endpoint_url,
                     session=default_server.session())
    persisted = [a["FragmentNumber"] for a in acks if a["EventType"] == "PERSISTED"]
    assert len(persisted) == 3
    started = time.monotonic()
    payload = _get_media(default_server, name)["Payload"].read()  # botocore's read timeout is 60 s
    elapsed = time.monotonic() - started
    fragments = list(read_fragments(payload))
    assert [f.fragment_number for f in fragments] == persisted
    # It waited about 3 s after catching up (no producer connected), then ended.
    assert 2.5 <= elapsed < 20, elapsed
    # sample_mkv() counts from the kvsmock clock's now, as ABSOLUTE timecodes want: no 1970 dates.
    assert [round(f.producer_timestamp - fragments[0].producer_timestamp, 3) for f in fragments] == [0, 2, 4]
    assert before - 60 <= fragments[0].producer_timestamp <= time.time()


def test_default_server_keeps_tailing_while_a_producer_is_connected(default_server):
    name = _new_stream(default_server)
    header, fragments = split_at_clusters(fragment_media(2))
    conn = RawPutMedia(default_server.port, name)
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        tap = FragmentTap(_get_media(default_server, name)["Payload"])
        tap.start()
        tap.wait_for(1)
        assert not tap.ended.wait(4.0)  # longer than the 3-s default idle time: a producer is connected
        conn.send(fragments[1])
        tap.wait_for(2)
        producer_gone = _finish(conn)
    finally:
        conn.close()
    assert tap.ended.wait(15)
    assert tap.error is None and len(tap.fragments) == 2
    assert 2.5 <= tap.ended_at - producer_gone < 10


# ------------------------------------------------------------ producers and the idle time
def test_get_media_ends_after_the_producer_disconnects_not_only_at_a_new_fragment(kvs_server):
    name = _new_stream(kvs_server)
    header, fragments = split_at_clusters(fragment_media(2))
    conn = RawPutMedia(kvs_server.port, name)
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        tap = FragmentTap(_get_media(kvs_server, name)["Payload"])
        tap.start()
        tap.wait_for(1)
        # Caught up for more than the 1-s idle timeout; the producer is connected, so it keeps tailing.
        assert not tap.ended.wait(2.0)
        producer_gone = _finish(conn)  # no new fragment: only the connection closes
    finally:
        conn.close()
    assert tap.ended.wait(10), "GetMedia never noticed that the producer went away"
    assert tap.error is None and [f.producer_timestamp for f in tap.fragments] == [START]
    assert 0.8 <= tap.ended_at - producer_gone < 5.0


def test_producer_connecting_while_a_reader_waits_is_picked_up(kvs_server):
    name = _new_stream(kvs_server)
    tap = FragmentTap(_get_media(kvs_server, name, "NOW")["Payload"])  # an empty stream: caught up at once
    tap.start()
    header, fragments = split_at_clusters(fragment_media(2))
    conn = RawPutMedia(kvs_server.port, name)  # connects within the reader's 1-s idle time
    try:
        assert not tap.ended.wait(2.0)  # past the idle time: the connected producer keeps it open
        conn.send(header + fragments[0])
        tap.wait_for(1)
        conn.send(fragments[1])
        tap.wait_for(2)
        producer_gone = _finish(conn)
    finally:
        conn.close()
    assert tap.ended.wait(10)
    assert tap.error is None
    persisted = [e["FragmentNumber"] for e in conn.events if e["EventType"] == "PERSISTED"]
    assert [f.fragment_number for f in tap.fragments] == persisted
    assert tap.ended_at - producer_gone < 5.0


# ------------------------------------------------------------ live reading with read_fragments
@pytest.mark.parametrize("selector", ["NOW", "EARLIEST"])
def test_read_fragments_yields_each_fragment_while_the_producer_streams(kvs_server, selector):
    name = _new_stream(kvs_server)
    header, fragments = split_at_clusters(fragment_media(5))
    conn = RawPutMedia(kvs_server.port, name)
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        tap = FragmentTap(_get_media(kvs_server, name, selector)["Payload"])
        tap.start()
        tap.wait_for(1)
        for index, fragment in enumerate(fragments[1:], start=1):
            # Nothing of fragment k+1 is sent before the reader has yielded fragment k.
            conn.send(fragment)
            tap.wait_for(index + 1)
            assert not tap.ended.is_set()
        _finish(conn)
    finally:
        conn.close()
    assert tap.ended.wait(10)
    assert tap.error is None
    persisted = [e["FragmentNumber"] for e in conn.events if e["EventType"] == "PERSISTED"]
    assert [f.fragment_number for f in tap.fragments] == persisted
    assert [f.producer_timestamp for f in tap.fragments] == [START + i for i in range(5)]
    assert all(f.continuation_token == f.fragment_number and len(f.frames) == 25 for f in tap.fragments)


# ------------------------------------------------------------ clients that go away
def _get_media_until_admitted(client, stream: str, timeout: float = 10.0):
    """GetMedia, retried while the stream still counts three connections; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return _get_media(None, stream, client=client)
        except ClientError as err:
            code = err.response["Error"]["Code"]
            assert code in ("ConnectionLimitExceededException", "ClientLimitExceededException"), err
            assert time.monotonic() < deadline, "the closed GetMedia connections still hold their slots"
            time.sleep(0.25)  # stays under the 5 GetMedia calls per second of a stream


def _raw_get_media(port: int, stream: str) -> socket.socket:
    """A GetMedia written by hand on a socket; returns once the 200 and some media arrived."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = json.dumps({"StreamName": stream, "StartSelector": {"StartSelectorType": "EARLIEST"}}).encode()
    sock.sendall(
        b"POST /getMedia HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body) + body
    )
    received = b""
    while b"\r\n\r\n" not in received or len(received) < 1000:
        piece = sock.recv(65536)
        assert piece, received
        received += piece
    assert received.startswith(b"HTTP/1.1 200"), received[:200]
    return sock


def _media_client(server: KvsServer, tls: bool):
    if not tls:
        return server.client("kinesis-video-media")
    if not server.ca_file:
        pytest.skip("the server serves no HTTPS (no CA)")
    return server.client(
        "kinesis-video-media", endpoint_url=f"https://127.0.0.1:{server.port}", verify=server.ca_file,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("how", ["payload_close", "payload_close_https", "socket_close"])
def test_get_media_closed_early_frees_its_connection_slot(kvs_server, how):
    name = _new_stream(kvs_server)
    header, fragments = split_at_clusters(fragment_media(2))
    conn = RawPutMedia(kvs_server.port, name)  # a connected producer: GetMedia keeps tailing, never ends by itself
    try:
        conn.send(header + fragments[0])
        conn.read_until(has_ack("PERSISTED", 0))
        client = _media_client(kvs_server, tls=how.endswith("https"))
        readers = []
        for _ in range(3):
            if how == "socket_close":
                readers.append(_raw_get_media(kvs_server.port, name))
            else:
                payload = _get_media(None, name, client=client)["Payload"]
                assert len(payload.read(1000)) == 1000  # part of the first chunk; the server then waits
                readers.append(payload)
        with pytest.raises(ClientError) as err:
            _get_media(None, name, client=client)
        assert err.value.response["Error"]["Code"] == "ConnectionLimitExceededException"
        for reader in readers:
            reader.close()
        fourth = _get_media_until_admitted(client, name)
        assert fourth["ResponseMetadata"]["HTTPStatusCode"] == 200
        first = fourth["Payload"].read(1000)
        assert first.startswith(b"\x1a\x45\xdf\xa3")  # an EBML header: the first chunk
        fourth["Payload"].close()
        _finish(conn)
    finally:
        conn.close()



def test_peer_closed_reads_nothing_and_sees_the_close():
    from kvsmock.server.peer import peer_closed, peer_gone_probe

    server_side, client_side = socket.socketpair()
    try:
        gone = peer_gone_probe(server_side)
        assert peer_gone_probe(None) is None
        assert not gone()
        client_side.sendall(b"x")  # a client that talks has not gone, and its byte stays unread
        assert not gone()
        assert server_side.recv(1) == b"x"
        client_side.close()
        assert gone() and peer_closed(server_side)
    finally:
        server_side.close()
        client_side.close()
