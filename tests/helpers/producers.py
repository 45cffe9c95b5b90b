"""Producers for tests: a PutMedia connection written by hand, as the C producer SDK writes it."""

from __future__ import annotations

import json
import os
import socket
import time

from kvsmock.media import ebml
from kvsmock.media.matroska import Packet, TrackInfo, write_mkv
from kvsmock.media.sample import encode_sample

#: The producer start timestamp a RawPutMedia upload declares (RELATIVE timecodes count from it).
START = "1700000000.000"


def fragment_media(duration_s: int = 5, end_of_fragment_tags: bool = True) -> bytes:
    """1-second fragments; with the SDK's END_OF_FRAGMENT marker after each cluster."""
    encoded = encode_sample(duration_s, 1, 25, 320, 240, "h264", False)
    return write_mkv(encoded.tracks, encoded.packets, end_of_fragment_tags=end_of_fragment_tags)


def has_ack(event_type: str, timecode: int):
    return lambda events: any(e["EventType"] == event_type and e.get("FragmentTimecode") == timecode for e in events)


def big_fragment() -> bytes:
    """One 3 MB fragment (random frame payloads: ingest does not decode), timestamped now."""
    track = TrackInfo(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x42\x00\x1e\xff\xe1\x00\x00\x01\x00\x00",
                      width=64, height=64)
    now_ms = int(time.time() * 1000)
    packets = [Packet(1, now_ms + i * 40, i == 0, os.urandom(60_000)) for i in range(50)]
    return write_mkv([track], packets)


def split_at_clusters(media: bytes) -> tuple[bytes, list[bytes]]:
    """(header part, [bytes of each fragment: its Cluster and whatever follows it])."""
    pos = 0
    element_id, size, header_len = ebml.read_element_header(media, pos)
    assert element_id == ebml.EBML
    pos += header_len + size
    element_id, size, header_len = ebml.read_element_header(media, pos)
    assert element_id == ebml.SEGMENT
    pos += header_len
    starts = []
    while pos < len(media):
        element_id, size, header_len = ebml.read_element_header(media, pos)
        assert size is not None
        if element_id == ebml.CLUSTER:
            starts.append(pos)
        pos += header_len + size
    ends = starts[1:] + [len(media)]
    return media[: starts[0]], [media[s:e] for s, e in zip(starts, ends)]


class RawPutMedia:
    """A PutMedia connection: chunked body written by hand, ACK lines parsed as they arrive."""

    def __init__(self, port: int, stream: str, timecode_type: str = "RELATIVE"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.sendall(
            (
                "POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"x-amzn-stream-name: {stream}\r\n"
                f"x-amzn-fragment-timecode-type: {timecode_type}\r\n"
                f"x-amzn-producer-start-timestamp: {START}\r\n"
                "x-amzn-fragment-acknowledgment-required: 1\r\n"
                "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
            ).encode()
        )
        self.raw = b""
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.text = b""
        self.events: list[dict] = []
        self.closed = False  # the chunked response ended (0-size chunk) or the socket closed
        self.arrivals: list[float] = []  # monotonic time each event was parsed
        self.chunks: list[bytes] = []  # the data of each HTTP chunk of the response, as framed

    def send(self, data: bytes) -> None:
        self.sock.sendall(b"%x\r\n" % len(data) + data + b"\r\n")

    def finish(self) -> None:
        self.sock.sendall(b"0\r\n\r\n")

    def close(self) -> None:
        self.sock.close()

    def _parse(self) -> None:
        if self.status is None:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.raw = self.raw[:end].decode(), self.raw[end + 4 :]
            lines = head.split("\r\n")
            self.status = int(lines[0].split()[1])
            self.headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
            assert self.headers.get("transfer-encoding") == "chunked", self.headers
        while not self.closed:
            line_end = self.raw.find(b"\r\n")
            if line_end < 0:
                break
            size = int(self.raw[:line_end], 16)
            if len(self.raw) < line_end + 2 + size + 2:
                break
            self.text += self.raw[line_end + 2 : line_end + 2 + size]
            if size:
                self.chunks.append(self.raw[line_end + 2 : line_end + 2 + size])
            self.raw = self.raw[line_end + 2 + size + 2 :]
            if size == 0:
                self.closed = True
        while b"\n" in self.text:
            line, self.text = self.text.split(b"\n", 1)
            if line.strip():
                self.events.append(json.loads(line))
                self.arrivals.append(time.monotonic())

    def read_until(self, predicate, timeout: float = 5.0) -> list[dict]:
        """Read ACKs until ``predicate(events)`` holds; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._parse()
            if predicate(self.events):
                return self.events
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.closed:
                raise AssertionError(f"ACKs never satisfied the condition; got {self.events}")
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                self.closed = True
            self.raw += data
