"""Ingest and read benchmark on a 720p, ~4 Mbit/s, 2-second-fragment stream.

Prints, from one run (ratios matter: this machine is shared and noisy):

(a) PutMedia ingest MB/s into the kvsmock server next to the same chunked
    upload into a do-nothing werkzeug app (target ratio >= 0.5), and into a
    werkzeug app that only keeps what it reads in memory (kvsmock stores
    every byte too; on a VM that backs guest memory lazily, first-touch
    memory is a large share of ingest cost, measured here as well);
(b) in-process ingest MB/s through ``kvsmock.put_media`` inside
    ``mock_kinesisvideo`` (target >= 300 MB/s), and of the PutMedia session alone;
(c) GetMedia read MB/s from the server;
(d) live latency from the producer sending a fragment's last byte to a
    concurrent GetMedia(NOW) reader receiving it, p50 and p99 (targets 5 / 20 ms);
(e) the server's peak memory per stored MB (target <= 1.1).

The media is written with kvsmock's MKV writer in the official producer
SDK's layout (unknown-size clusters closed by END_OF_FRAGMENT tags); frame
payloads are random bytes sized for 4 Mbit/s (ingest does not decode).

    python benchmarks/media.py [--seconds 120] [--latency-fragments 100]
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import threading
import time

import boto3
import requests

from conftest_plugin import KvsServer, free_port
from kvsmock import mock_kinesisvideo, put_media
from kvsmock.media import ebml
from kvsmock.media.ebml.writing import tags_element as producer_tags
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, cluster_element, header_elements
from kvsmock.media.matroska.tags import END_OF_FRAGMENT
from proc_stats import proc_status
from report import publish

FPS, FRAGMENT_S, KBPS = 25, 2, 4000
MB = 1024 * 1024
SINK_APP = """
import sys
from werkzeug.serving import make_server
KEEP = sys.argv[2] == "keep"
kept = []
def app(environ, start_response):
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        if KEEP:
            kept.append(piece)
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]
make_server("127.0.0.1", int(sys.argv[1]), app, threaded=True).serve_forever()
"""
FIRST_TOUCH = """
import sys, time
size, piece = int(sys.argv[1]), bytes(65536)
kept = []
start = time.perf_counter()
for _ in range(size // 65536):
    kept.append(bytearray(piece))
print(size / (time.perf_counter() - start))
"""


def first_touch_rate(size: int) -> float:
    """MB/s at which a fresh process fills memory it has not touched before (a property of the machine)."""
    out = subprocess.run([sys.executable, "-c", FIRST_TOUCH, str(size)], capture_output=True, text=True, check=True)
    return float(out.stdout) / MB


def session_rate(body: bytes, rounds: int) -> float:
    """MB/s at which a PutMedia session alone (no server, no HTTP) ingests ``body``, median of ``rounds``: what
    kvsmock's own ingest work costs on this machine."""
    from kvsmock.service.backend import KinesisVideoService
    from kvsmock.service.put_media import PutMediaSession

    service = KinesisVideoService("us-east-1", "123456789012")
    rates = []
    for r in range(rounds):
        service.create_stream(f"direct-{r}", data_retention_hours=1)
        session = PutMediaSession(service.streams[f"direct-{r}"])
        start = time.perf_counter()
        for i in range(0, len(body), 65536):
            session.feed(body[i : i + 65536])
        session.close()
        rates.append(len(body) / MB / (time.perf_counter() - start))
    return statistics.median(rates)


def host_speed() -> str:
    """How fast this machine is at what ingest costs, for comparing runs made on different hosts or days."""
    header, frags = fragments(30, start_ms=1_700_000_000_000)
    body = header + b"".join(frags)
    return (f"the PutMedia session alone ingests {session_rate(body, 3):.0f} MB/s and a fresh process fills untouched "
            f"memory at {first_touch_rate(len(body)):.0f} MB/s (`benchmarks/media.py` (b), (a'); the same figures from "
            "another run tell how much faster or slower its host was)")


def fragments(count: int, start_ms: int = 0) -> tuple[bytes, list[bytes]]:
    """The MKV header and ``count`` 2-second fragments (cluster + END_OF_FRAGMENT tags)."""
    header = ebml.ebml_header("matroska") + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header_elements(
        [TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, codec_private=b"\x01\x64\x00\x1f\xff\xe1\x00\x00\x01\x00\x00", width=1280, height=720)]
    )
    per_frame = KBPS * 1000 // 8 // FPS
    pool = os.urandom(per_frame * 8)
    frames = FPS * FRAGMENT_S
    out = []
    for f in range(count):
        packets = []
        for i in range(frames):
            size = per_frame * 4 if i == 0 else per_frame * (frames - 4) // (frames - 1)
            offset = (f * 7 + i * 13) % (len(pool) - size)
            packets.append(Packet(1, start_ms + (f * frames + i) * 1000 // FPS, i == 0, pool[offset : offset + size]))
        out.append(cluster_element(packets[0].time_ms, packets, unknown_size=True) + producer_tags([(END_OF_FRAGMENT, "")]))
    return header, out


def chunked_upload(port: int, header: bytes, frags: list[bytes], headers: dict[str, str], on_sent=None) -> float:
    """POST with hand-written chunked encoding; returns seconds until the response ends."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.putrequest("POST", "/putMedia", skip_accept_encoding=True)
    for k, v in headers.items():
        conn.putheader(k, v)
    conn.putheader("Transfer-Encoding", "chunked")
    conn.endheaders()
    start = time.perf_counter()

    def send(data: bytes) -> None:
        for i in range(0, len(data), 65536):
            piece = data[i : i + 65536]
            conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))

    send(header)
    for index, frag in enumerate(frags):
        send(frag)
        if on_sent:
            on_sent(index, time.perf_counter())
    conn.send(b"0\r\n\r\n")
    response = conn.getresponse()
    response.read()
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def ack_latencies(port: int, header: bytes, frags: list[bytes], headers: dict[str, str]) -> list[float]:
    """Milliseconds from each fragment's last byte sent to its PERSISTED ACK read (one fragment at a time)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    sock.sendall(f"POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Transfer-Encoding: chunked\r\n\r\n".encode())
    sock.sendall(b"%x\r\n%s\r\n" % (len(header), header))
    received, out = b"", []
    for index, frag in enumerate(frags):
        sock.sendall(b"%x\r\n%s\r\n" % (len(frag), frag))
        sent = time.perf_counter()
        while received.count(b'"PERSISTED"') <= index:
            received += sock.recv(65536)
        out.append((time.perf_counter() - sent) * 1000)
    sock.sendall(b"0\r\n\r\n")
    sock.close()
    return out


def put_headers(stream: str) -> dict[str, str]:
    return {
        "x-amzn-stream-name": stream,
        "x-amzn-fragment-timecode-type": "ABSOLUTE",
        "x-amzn-producer-start-timestamp": f"{time.time():.3f}",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kinesisvideo/aws4_request, SignedHeaders=host, Signature=0",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=120, help="media seconds per ingest run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-fragments", type=int, default=100)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    count = args.seconds // FRAGMENT_S
    header, frags = fragments(count, start_ms=1_700_000_000_000)
    body_mb = (len(header) + sum(map(len, frags))) / MB
    rows: list[tuple[str, str, str]] = []

    # (a) server vs a do-nothing werkzeug app, alternating rounds.
    sink_port, keep_port = free_port(), free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK_APP, str(sink_port), "discard"], stderr=subprocess.DEVNULL)
    keeper = subprocess.Popen([sys.executable, "-c", SINK_APP, str(keep_port), "keep"], stderr=subprocess.DEVNULL)
    server = KvsServer()
    try:
        for port in (sink_port, keep_port):
            for _ in range(50):
                try:
                    http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                    break
                except OSError:
                    time.sleep(0.1)
        kv = server.kinesisvideo
        kvs_rates, sink_rates, keep_rates, touch_rates = [], [], [], []
        for r in range(args.rounds):
            name = f"ingest-{r}"
            kv.create_stream(StreamName=name, DataRetentionInHours=1)
            _, frs = fragments(count, start_ms=1_700_000_000_000)
            kvs_rates.append(body_mb / chunked_upload(server.port, header, frs, put_headers(name)))
            sink_rates.append(body_mb / chunked_upload(sink_port, header, frs, put_headers(name)))
            keep_rates.append(body_mb / chunked_upload(keep_port, header, frs, put_headers(name)))
            touch_rates.append(first_touch_rate(int(body_mb * MB)))
        kvs_rate, sink_rate = statistics.median(kvs_rates), statistics.median(sink_rates)
        keep_rate, touch_rate = statistics.median(keep_rates), statistics.median(touch_rates)
        rows.append(("(a) PutMedia ingest into the server", f"{kvs_rate:.0f} MB/s", f"do-nothing werkzeug app {sink_rate:.0f} MB/s; ratio {kvs_rate / sink_rate:.2f} (target >= 0.5)"))
        rows.append(("(a') the same upload, next to an app that keeps what it reads", f"{kvs_rate:.0f} MB/s", f"keeping werkzeug app {keep_rate:.0f} MB/s; ratio {kvs_rate / keep_rate:.2f}; a fresh process fills untouched memory at {touch_rate:.0f} MB/s here"))

        # (c) GetMedia read from the server (the stream ingested above).
        media = server.media("ingest-0")
        body = media.get_media(StreamName="ingest-0", StartSelector={"StartSelectorType": "EARLIEST"})["Payload"]
        total = len(body.read())
        url = server.data_endpoint("ingest-0", "GET_MEDIA") + "/getMedia"
        hdrs = {"Content-Type": "application/json", "Authorization": put_headers("x")["Authorization"]}
        start = time.perf_counter()
        got = 0
        with requests.post(url, json={"StreamName": "ingest-0", "StartSelector": {"StartSelectorType": "EARLIEST"}}, headers=hdrs, stream=True) as resp:
            for piece in resp.iter_content(1 << 20):
                got += len(piece)
                if got >= total:
                    break
        read_rate = got / MB / (time.perf_counter() - start)
        rows.append(("(c) GetMedia read from the server", f"{read_rate:.0f} MB/s", f"{got / MB:.0f} MB in {count} chunks"))

        # (d) live latency: producer's last byte of a fragment -> GetMedia(NOW) reader has it.
        n = args.latency_fragments
        kv.create_stream(StreamName="live", DataRetentionInHours=1)
        live_header, live = fragments(n + 1, start_ms=1_800_000_000_000)
        sent: dict[int, float] = {}
        received: dict[int, float] = {}
        marker = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN"
        ready = threading.Event()

        def reader() -> None:
            buf = b""
            seen = 0
            url = server.data_endpoint("live", "GET_MEDIA") + "/getMedia"
            # start after the first fragment, which is put before the reader connects
            with requests.post(url, json={"StreamName": "live", "StartSelector": {"StartSelectorType": "NOW"}}, headers=hdrs, stream=True) as resp:
                ready.set()
                for piece in resp.iter_content(None):
                    now = time.perf_counter()
                    buf = buf[-len(marker):] + piece
                    seen += buf.count(marker)
                    while len(received) < seen:
                        received[len(received)] = now
                    if len(received) >= n + 1:
                        return


        def on_sent(index: int, t: float) -> None:
            sent[index] = t
            if index == 0:
                threading.Thread(target=reader, daemon=True).start()
                ready.wait(10)
            deadline = time.perf_counter() + 2
            while len(received) <= index and time.perf_counter() < deadline:
                time.sleep(0.0002)

        chunked_upload(server.port, live_header, live, put_headers("live"), on_sent=on_sent)
        latencies = sorted((received[i] - sent[i]) * 1000 for i in range(1, n + 1) if i in received)
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        rows.append(("(d) live latency, last byte sent -> GetMedia(NOW) reader has it", f"p50 {p50:.1f} ms, p99 {p99:.1f} ms", f"{len(latencies)} fragments (targets 5 / 20 ms)"))

        # (f) PutMedia ACK latency: a fragment's last byte sent -> its PERSISTED ACK read.
        kv.create_stream(StreamName="acks", DataRetentionInHours=1)
        ack_header, ack_frags = fragments(n, start_ms=1_900_000_000_000)
        acks = sorted(ack_latencies(server.port, ack_header, ack_frags, put_headers("acks")))
        rows.append(("(f) PutMedia ACK latency, last byte sent -> PERSISTED read", f"p50 {statistics.median(acks):.1f} ms, p99 {acks[min(len(acks) - 1, int(len(acks) * 0.99))]:.1f} ms", f"{len(acks)} fragments, one at a time (target p50 <= 5 ms)"))

        # (e) peak memory per stored MB, in a fresh server process (its high-water mark
        # must not include the runs above).
        fresh = KvsServer()
        try:
            fresh.kinesisvideo.create_stream(StreamName="memory", DataRetentionInHours=1)
            base = proc_status(fresh.process.pid, "VmHWM")
            chunked_upload(fresh.port, header, frags, put_headers("memory"))
            stored_mb = sum(map(len, frags)) / MB
            peak = proc_status(fresh.process.pid, "VmHWM")
            rss = proc_status(fresh.process.pid, "VmRSS")
        finally:
            fresh.stop()
        rows.append(("(e) server memory per stored MB", f"{(peak - base) / MB / stored_mb:.2f} MB peak", f"resident {(rss - base) / MB / stored_mb:.2f} MB per stored MB; {stored_mb:.0f} MB stored"))
    finally:
        server.stop()
        for proc in (sink, keeper):
            proc.terminate()
            proc.wait()

    # (b) in-process.
    in_rates = []
    with mock_kinesisvideo():
        client = boto3.client("kinesisvideo", region_name="us-east-1")
        body_bytes = header + b"".join(frags)
        for r in range(args.rounds):
            client.create_stream(StreamName=f"in-{r}", DataRetentionInHours=1)
            start = time.perf_counter()
            acks = put_media(f"in-{r}", media=body_bytes, region_name="us-east-1")
            in_rates.append(body_mb / (time.perf_counter() - start))
            assert sum(a["EventType"] == "PERSISTED" for a in acks) == count
    direct = session_rate(body_bytes, args.rounds)
    rows.insert(2, ("(b) in-process ingest through put_media", f"{statistics.median(in_rates):.0f} MB/s", f"PutMedia session alone {direct:.0f} MB/s (target >= 300)"))

    intro = [
        f"Media benchmark: {count} fragments of 2 s, 1280x720 track, ~{KBPS} kbit/s "
        f"({body_mb:.0f} MB per ingest run), median of {args.rounds} rounds where repeated; {os.cpu_count()} CPUs."
    ]
    columns = ["measure", "kvsmock", "reference / note"]
    publish("media", intro, columns, ["---", "---:", "---"], rows, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
