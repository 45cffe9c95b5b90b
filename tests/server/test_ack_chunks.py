"""PutMedia's ACKs on the wire: one HTTP chunk per ACK, even when several are sent in one write.

The official C producer SDK's ACK parser takes one ACK per chunk it is
handed (it forgets the upload handle after each ACK): ACKs joined in one
chunk lose their PERSISTED for it, and it resends fragments already stored.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from helpers.producers import RawPutMedia, fragment_media, split_at_clusters


def test_every_ack_is_a_chunk_of_its_own(kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="chunked-acks", DataRetentionInHours=1)
    header, clusters = split_at_clusters(fragment_media(duration_s=5))
    producer = RawPutMedia(kvs_server.port, "chunked-acks")
    try:
        producer.send(header)
        for cluster in clusters:
            producer.send(cluster)
        producer.finish()
        events = producer.read_until(lambda got: sum(e["EventType"] == "PERSISTED" for e in got) == len(clusters))
    finally:
        producer.close()

    assert len(producer.chunks) == len(events) == 3 * len(clusters)
    for chunk, event in zip(producer.chunks, events):
        assert chunk.endswith(b"\n") and chunk.count(b"\n") == 1
        assert json.loads(chunk) == event


def drained(sock: socket.socket) -> tuple[threading.Thread, bytearray]:
    """A thread reading ``sock`` to its end into the returned bytes (join it, then look)."""
    received = bytearray()

    def drain() -> None:
        while data := sock.recv(1 << 16):
            received.extend(data)

    reader = threading.Thread(target=drain)
    reader.start()
    return reader, received


def test_a_large_write_of_many_pieces_goes_out_whole():
    """Past 64 KiB the writer gathers the pieces into sendmsg calls, at most IOV_MAX buffers each."""
    from kvsmock.server.handler import CoalescingWriter

    left, right = socket.socketpair()
    pieces = [b"%05d\n" % i for i in range(3000)] + [b"x" * 100_000]
    reader, received = drained(right)
    writer = CoalescingWriter(left.makefile("wb", buffering=0), left)
    writer.holding = True
    for piece in pieces:
        writer.write(piece)
        writer.flush()  # held: nothing goes out yet
    writer.holding = False
    writer.flush()
    left.shutdown(socket.SHUT_WR)
    reader.join(timeout=10)
    left.close()
    right.close()
    assert bytes(received) == b"".join(pieces)


def test_a_send_from_another_thread_frames_chunks_and_leaves_the_rest_for_the_next_flush():
    """``send_now`` (a live GetMedia's fan-out) never waits: what the socket does not take goes out, in order,
    when the connection's own thread flushes; a failed send is raised there too."""
    from kvsmock.server.handler import CoalescingWriter

    left, right = socket.socketpair()
    left.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 * 1024)
    writer = CoalescingWriter(left.makefile("wb", buffering=0), left)
    assert writer.can_send_now
    big = bytes(range(256)) * 4096  # 1 MiB: more than the socket takes at once
    assert writer.send_now([b"head", big]) is False  # nobody reads yet: part is left
    reader, received = drained(right)
    writer.write(b"5\r\n")  # the connection's own next chunk goes after what was left
    writer.write(b"after")
    writer.write(b"\r\n")
    writer.flush()
    left.shutdown(socket.SHUT_WR)
    reader.join(timeout=10)
    assert bytes(received) == b"4\r\nhead\r\n%x\r\n" % len(big) + big + b"\r\n5\r\nafter\r\n"

    left.close()
    right.close()

    left, right = socket.socketpair()
    right.close()  # the client has gone
    failed = CoalescingWriter(left.makefile("wb", buffering=0), left)
    assert failed.send_now([b"x" * 100_000]) is False
    with pytest.raises(BrokenPipeError):
        failed.flush()
    left.close()
