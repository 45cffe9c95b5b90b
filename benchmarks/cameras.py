"""Scale benchmark: N real-time cameras streaming into ``kvsmock server``, and M live readers of one stream.

A camera is one PutMedia connection (a raw socket, the body in hand-written
chunked transfer encoding) sending what the official C producer SDK sends:
an EBML header, a Segment of unknown size, Info and Tracks, then one
unknown-size Cluster per 2-second fragment (8-byte Timecode and SimpleBlock
sizes), ABSOLUTE timecodes (each Cluster's Timecode is the wall time at which
its fragment starts), a keyframe every 50 frames, 25 fps, ~4.5 Mbit/s (random
frame payloads: ingest does not decode; a keyframe 4 times the size of the
other frames). The frames are sent in real time: every ``--batch-frames``
frames (default 1: each frame) go out as one HTTP chunk at their due time.
A fragment's unknown-size Cluster ends when the next Cluster starts (or the
body ends), so the byte that completes fragment k is the head of Cluster k+1,
sent at the start of fragment k+1. Cameras start staggered over one fragment
(cameras are not synchronised), each on its own stream
(``DataRetentionInHours`` 1).

All cameras run as coroutines on one asyncio event loop (asyncio streams) in
this process, so they use at most one core of the two and their CPU is
measured too (with the event loop's lag and how late frames went out): if
the client is the bottleneck, the table says so. The readers run in
``--reader-processes`` processes of their own (default 4), each on its own
event loop, so that reading M copies of every fragment is not one client
thread's work.

Measured per variant (a fresh server each time; ``--seconds`` per variant;
the server in memory and with ``--data-dir`` (a temporary directory, deleted
after); N from ``--cameras``):

* offered MB/s (N x the nominal bitrate) and sent MB/s (bytes the cameras
  wrote while all N were streaming: below offered when the server does not
  read fast enough and the cameras fall behind);
* server CPU (``/proc/PID/stat`` utime+stime over that window, % of one
  core), client CPU (``getrusage``, same window), the load average;
* server RSS (``VmRSS``) at the end and its peak (``VmHWM``), and the bytes
  it wrote to storage (``/proc/PID/io`` write_bytes) over the window;
* ACK latency p50 / p99: from writing the byte that completes a fragment to
  reading its PERSISTED ACK (the server streams ACKs as JSON lines);
* errors: ERROR ACKs, connections reset or closed early, HTTP errors,
  fragments never PERSISTED, tracebacks in the server's log.

Readers: one camera on one stream and M GetMedia (StartSelectorType NOW)
readers on it (``--readers``, ``--reader-seconds``). The service allows 3
GetMedia connections per stream, so readers past the third are refused with
ConnectionLimitExceededException (or ClientLimitExceededException: it also
allows 5 GetMedia calls a second per stream, and the readers start
together): refusals are counted, delivery latency is reported for the
admitted readers only. Delivery latency: from the producer
writing the byte that completes a fragment to a reader having received the
fragment's whole GetMedia chunk (its trailing CONTINUATION_TOKEN tag; the
fragment is told by its AWS_KINESISVIDEO_FRAGMENT_NUMBER tag, matched to the
camera's ACKs), and to the reader seeing its FRAGMENT_NUMBER tag (first).
Only fragments completed after the reader sent its request count: NOW
starts with the latest fragment stored, which a reader whose process
started late gets at once, long after it was complete.

The camera variants run the server with ``--quotas off``: creating hundreds
of streams at once is more than the service allows (50 CreateStream calls a
second per account); the reader variants run with the service's quotas,
the connection limit being part of what they show, and then with them off
(``--reader-quotas service,off``, the default: every reader admitted, the
cost of fanning one stream out to M readers, with the limit raised for the
benchmark only; M <= 3 is not run again). Each reader reads into a
buffer of its own and looks only for the tags (``ViewerProtocol``), so the
client's cost per reader stays small next to the server's.

Variants run alternately (memory and ``--data-dir`` interleaved, their order
rotating each round) for ``--rounds`` rounds; the table gives medians over
the rounds. If the largest N held in every run (no errors, every fragment
PERSISTED, sent >= 97 % of offered, ACK p99 under one fragment), the larger
counts of ``--more`` are tried, one round each, while they hold.

    python benchmarks/cameras.py [--quick] [--seconds 60] [--cameras 1,10,100,300] [--more 500,1000]
                                 [--readers 1,10,50] [--reader-quotas service,off] [--reader-seconds 30]
                                 [--reader-processes 4] [--rounds 2]
                                 [--batch-frames 1] [--tmp /tmp] [--tls] [--no-write]

``--quick`` is a smoke run (10 s, N = 1, 10, M = 1, 10, one round) that does
not write results/cameras.md. ``--tls`` connects the cameras over HTTPS (the
server answering with its local CA), as the C producer SDK and kvssink
always do, and writes results/cameras-tls.md instead.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import ssl
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest_plugin import KvsServer
from kvsmock.media import ebml
from kvsmock.media.ebml import ids
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, cluster_element, header_elements
from proc_stats import cpu_seconds, own_cpu_seconds, proc_status, proc_written
from report import publish

MB = 1024 * 1024
FPS, FRAGMENT_S, KBPS = 25, 2, 4500
FRAMES = FPS * FRAGMENT_S  # per fragment; the first is the keyframe
FRAGMENT_MS = FRAGMENT_S * 1000
RETENTION_HOURS = 1
AUTHORIZATION = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kinesisvideo/aws4_request, "
                 "SignedHeaders=host, Signature=0")  # kvsmock does not check signatures
FRAGMENT_NUMBER = b"AWS_KINESISVIDEO_FRAGMENT_NUMBER"
CONTINUATION_TOKEN = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN"
WRITE_HIGH_WATER = 256 * 1024  # a camera waits (drain) when this much is unsent: the server is not reading
ACK_WAIT_S = 30.0  # after its last byte, how long a camera waits for the rest of its ACKs
CONNECT_CONCURRENCY = 20  # connections opened at once (the listen backlog is finite)
MODES = ("memory", "data-dir")


# ---------------------------------------------------------------- media
def chunk(data: bytes) -> bytes:
    """One HTTP chunk."""
    return b"%x\r\n%s\r\n" % (len(data), data)


class Media:
    """One fragment's bytes, built once with kvsmock's MKV writer and shared by every camera.

    Every fragment is the same but for its Cluster's Timecode (8 bytes wide,
    like the C SDK's), which :meth:`cluster_head` writes per fragment; the
    frames after it are ready-made HTTP chunks of ``batch_frames`` frames.
    """

    def __init__(self, batch_frames: int):
        track = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x64\x00\x1f\xff\xe1\x00\x00\x01\x00\x00",
                          width=1280, height=720)
        self.header_chunk = chunk(ebml.ebml_header("matroska") + ebml.UNKNOWN_SIZE_SEGMENT_HEADER
                                  + header_elements([track]))
        per_fragment = KBPS * 1000 // 8 * FRAGMENT_S
        p_frame = per_fragment // (FRAMES + 3)  # the keyframe is 4 P frames
        sizes = [per_fragment - p_frame * (FRAMES - 1)] + [p_frame] * (FRAMES - 1)
        pool = os.urandom(max(sizes) * 4)
        packets = [Packet(1, i * 1000 // FPS, i == 0, pool[(i * 7919) % (len(pool) - s):][:s])
                   for i, s in enumerate(sizes)]
        cluster = cluster_element(0, packets, unknown_size=True, size_width=8)
        self.head_prefix = ebml.unknown_size_header(ids.CLUSTER, 1) + ebml.uint_element(ids.TIMECODE, 0, width=8)[:-8]
        head_len = len(self.head_prefix) + 8
        assert cluster[:head_len] == self.head_prefix + bytes(8)
        assert self.cluster_head(1_800_000_000_123) == (
            ebml.unknown_size_header(ids.CLUSTER, 1) + ebml.uint_element(ids.TIMECODE, 1_800_000_000_123, width=8))
        blocks, pos = [], head_len
        for size in sizes:
            end = pos + 1 + 8 + 4 + size  # SimpleBlock ID, 8-byte size, track/time/flags, frame
            blocks.append(cluster[pos:end])
            pos = end
        assert pos == len(cluster)
        self.batch_frames = batch_frames
        self.batches = [chunk(b"".join(blocks[i : i + batch_frames])) for i in range(0, FRAMES, batch_frames)]
        self.batch_s = batch_frames / FPS
        self.fragment_bytes = len(cluster)

    def cluster_head(self, timecode_ms: int) -> bytes:
        return self.head_prefix + timecode_ms.to_bytes(8, "big")


# ---------------------------------------------------------------- the machine and the server
def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def start_server(mode: str, work: Path, quotas: str = "service", tls: bool = False) -> KvsServer:
    """A fresh server; its temporary files (the in-memory server's spill files) go under ``work``; ``tls``: it
    answers HTTPS too (its local CA), else plain HTTP only."""
    extra = ["--tls", "local-ca" if tls else "off", "--quotas", quotas]
    if mode == "data-dir":
        extra += ["--data-dir", str(work / "data")]
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(work)  # the child's tempfile directory; this process's is already fixed
    try:
        return KvsServer(extra_args=extra)
    finally:
        if saved is None:
            del os.environ["TMPDIR"]
        else:
            os.environ["TMPDIR"] = saved


# ---------------------------------------------------------------- a camera
@dataclass
class Camera:
    stream: str
    start_at: float  # loop time of its first byte
    tc0: int  # its first Cluster's Timecode: epoch ms
    complete: dict[int, float] = field(default_factory=dict)  # timecode -> time its completing byte was written
    persisted: dict[int, float] = field(default_factory=dict)  # timecode -> time its PERSISTED ACK was read
    numbers: dict[str, int] = field(default_factory=dict)  # fragment number -> timecode (from the ACKs)
    error_acks: list[dict] = field(default_factory=list)
    failure: str | None = None  # reset, closed early, HTTP error
    http_status: int | None = None
    late: list[float] = field(default_factory=list)  # seconds each write went out after its due time
    stalled: float = 0.0  # seconds spent waiting for the server to take bytes (drain)
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None


class Fleet:
    """Counters shared by a run's coroutines (one thread: plain ints)."""

    def __init__(self) -> None:
        self.sent = 0


def request_head(stream: str, producer_start: float) -> bytes:
    return (
        "POST /putMedia HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"x-amzn-stream-name: {stream}\r\n"
        "x-amzn-fragment-timecode-type: ABSOLUTE\r\n"
        f"x-amzn-producer-start-timestamp: {producer_start:.3f}\r\n"
        "x-amzn-fragment-acknowledgment-required: 1\r\n"
        f"Authorization: {AUTHORIZATION}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
    ).encode()


async def read_acks(cam: Camera) -> None:
    """Parse the chunked ACK stream until it ends; record PERSISTED times and errors."""
    reader = cam.reader
    try:
        head = await reader.readuntil(b"\r\n\r\n")
        cam.http_status = int(head.split(b" ", 2)[1])
        if cam.http_status != 200:
            body = await reader.read(4096)
            cam.failure = f"HTTP {cam.http_status}: {body[:200]!r}"
            return
        text = b""
        while True:
            line = await reader.readline()
            if not line:
                cam.failure = cam.failure or "connection closed before the ACK stream ended"
                return
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                return
            text += (await reader.readexactly(size + 2))[:-2]
            while (end := text.find(b"\n")) >= 0:
                line, text = text[:end], text[end + 1:]
                if not line.strip():
                    continue
                now = time.monotonic()
                event = json.loads(line)
                kind = event.get("EventType")
                if "FragmentNumber" in event and "FragmentTimecode" in event:
                    cam.numbers[event["FragmentNumber"]] = event["FragmentTimecode"]
                if kind == "PERSISTED":
                    cam.persisted.setdefault(event["FragmentTimecode"], now)
                elif kind == "ERROR":
                    cam.error_acks.append(event)
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
        cam.failure = cam.failure or f"{type(exc).__name__}: {exc}"


async def run_camera(cam: Camera, media: Media, fragments: int, fleet: Fleet) -> None:
    """Stream ``fragments`` fragments in real time from ``cam.start_at``, then wait for the last ACKs."""
    loop = asyncio.get_running_loop()
    writer = cam.writer
    acks: asyncio.Task | None = None
    try:
        await asyncio.sleep(max(0.0, cam.start_at - loop.time()))
        data = request_head(cam.stream, cam.tc0 / 1000) + media.header_chunk
        writer.write(data)
        fleet.sent += len(data)
        acks = asyncio.create_task(read_acks(cam))
        for k in range(fragments):
            tc = cam.tc0 + k * FRAGMENT_MS
            for b, batch in enumerate(media.batches):
                due = cam.start_at + k * FRAGMENT_S + b * media.batch_s
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if acks.done() or writer.transport.is_closing():
                    cam.failure = cam.failure or "the server ended the upload early"
                    return
                now = time.monotonic()
                cam.late.append(now - due)
                if b == 0:
                    if k:
                        cam.complete[tc - FRAGMENT_MS] = now  # this Cluster head ends the fragment before
                    head = chunk(media.cluster_head(tc))
                    writer.write(head)
                    fleet.sent += len(head)
                writer.write(batch)
                fleet.sent += len(batch)
                if writer.transport.get_write_buffer_size() > WRITE_HIGH_WATER:
                    t = time.monotonic()
                    await writer.drain()
                    cam.stalled += time.monotonic() - t
        due = cam.start_at + fragments * FRAGMENT_S
        await asyncio.sleep(max(0.0, due - loop.time()))
        cam.complete[cam.tc0 + (fragments - 1) * FRAGMENT_MS] = time.monotonic()  # the body's end ends the last
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        try:
            await asyncio.wait_for(asyncio.shield(acks), ACK_WAIT_S)
        except asyncio.TimeoutError:
            cam.failure = cam.failure or f"ACK stream not finished {ACK_WAIT_S:.0f} s after the last byte"
    except (ConnectionError, OSError) as exc:
        cam.failure = cam.failure or f"{type(exc).__name__}: {exc}"
    finally:
        if acks is not None and not acks.done():
            acks.cancel()
        writer.close()


# ---------------------------------------------------------------- a GetMedia reader
@dataclass
class Viewer:
    admitted: bool = False
    refused: bool = False
    failure: str | None = None
    asked_at: float | None = None  # when it sent its GetMedia (monotonic)
    first: dict[str, float] = field(default_factory=dict)  # fragment number -> its FRAGMENT_NUMBER tag seen
    whole: dict[str, float] = field(default_factory=dict)  # fragment number -> its trailing tags seen


class ViewerProtocol(asyncio.BufferedProtocol):
    """One GetMedia reader: the socket reads into one buffer of the reader's own, which is scanned in place
    for each chunk's FRAGMENT_NUMBER tag (and its value) and its trailing CONTINUATION_TOKEN.

    Nothing is copied or decoded but the tags: so the client's cost per reader stays small next to the
    server's. The response's chunked framing is not undone; the tags' names never straddle an HTTP chunk (the
    server sends each tag block whole) and random frame payloads do not contain them. The bytes at the end
    of a read where a tag may begin are kept at the front of the buffer for the next.
    """

    SIZE = 1024 * 1024
    KEEP = max(len(FRAGMENT_NUMBER), len(CONTINUATION_TOKEN)) - 1  # a tag cut by the end of a read
    END = b"\r\n0\r\n\r\n"  # the last chunk of a chunked response

    def __init__(self, viewer: Viewer, request: bytes, done: asyncio.Future):
        self.viewer, self.request, self.done = viewer, request, done
        self.buf = bytearray(self.SIZE)
        self.kept = 0  # bytes at the front of ``buf`` carried over from the last read
        self.head = b""
        self.status: int | None = None
        self.current: str | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport
        self.viewer.asked_at = time.monotonic()
        transport.write(self.request)

    def get_buffer(self, sizehint: int) -> memoryview:
        return memoryview(self.buf)[self.kept :]

    def buffer_updated(self, nbytes: int) -> None:
        now = time.monotonic()
        buf, end, start = self.buf, self.kept + nbytes, 0
        self.kept = 0
        if self.status is None:
            at = buf.find(b"\r\n\r\n", 0, end)
            if at < 0:
                self.head += bytes(buf[:end])
                return
            head = self.head + bytes(buf[: at + 4])
            self.status, start = int(head.split(b" ", 2)[1]), at + 4
            self.head = head
            if self.status == 200:
                self.viewer.admitted = True
        if self.status != 200:
            self.head += bytes(buf[start:end])
            return
        keep_from = self.scan(start, end, now)
        if buf.endswith(self.END, 0, end) and not self.done.done():
            self.done.set_result(None)
        self.kept = end - keep_from
        buf[: self.kept] = buf[keep_from:end]

    def scan(self, pos: int, end: int, now: float) -> int:
        """Note the tags in ``buf[pos:end]``; returns where the bytes to look at again with the next read start."""
        buf = self.buf
        while True:
            i = buf.find(FRAGMENT_NUMBER, pos, end)
            j = buf.find(CONTINUATION_TOKEN, pos, end)
            if i >= 0 and (j < 0 or i < j):
                parsed = self._value(i + len(FRAGMENT_NUMBER), end)
                if parsed is None:
                    if end - i < 200:  # the value has not arrived yet
                        return i
                    parsed = "?", i + len(FRAGMENT_NUMBER)  # not a value after all
                number, pos = parsed
                self.current = number
                self.viewer.first.setdefault(number, now)
            elif j >= 0:
                if self.current is not None:
                    self.viewer.whole.setdefault(self.current, now)
                    self.current = None
                pos = j + len(CONTINUATION_TOKEN)
            else:
                return max(pos, end - self.KEEP)

    def _value(self, pos: int, end: int) -> tuple[str, int] | None:
        window = bytes(self.buf[pos : min(end, pos + 96)])
        got = ebml.read_id(window, 0)
        if got is None:
            return None
        element_id, id_width = got
        if element_id != ids.TAG_STRING:
            return "?", pos
        size = ebml.read_vint(window, id_width)
        if size is None:
            return None
        length, width = size
        start = id_width + width
        if length is None or start + length > len(window):
            return None
        return window[start : start + length].decode(errors="replace"), pos + start + length

    def connection_lost(self, exc) -> None:  # type: ignore[override]
        if self.status is not None and self.status != 200:
            if b"ConnectionLimitExceeded" in self.head or b"ClientLimitExceeded" in self.head:
                self.viewer.refused = True
            else:
                self.viewer.failure = f"HTTP {self.status}: {self.head[:200]!r}"
        elif exc is not None:
            self.viewer.failure = f"{type(exc).__name__}: {exc}"
        if not self.done.done():
            self.done.set_result(None)


async def run_viewer(viewer: Viewer, port: int, stream: str, stop_at: float) -> None:
    loop = asyncio.get_running_loop()
    body = json.dumps({"StreamName": stream, "StartSelector": {"StartSelectorType": "NOW"}}).encode()
    request = (f"POST /getMedia HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"Authorization: {AUTHORIZATION}\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    done: asyncio.Future = loop.create_future()
    try:
        transport, _ = await loop.create_connection(lambda: ViewerProtocol(viewer, request, done), "127.0.0.1", port)
    except OSError as exc:
        viewer.failure = f"connect: {exc}"
        return
    try:
        await asyncio.wait_for(asyncio.shield(done), max(0.0, stop_at - loop.time()))
    except asyncio.TimeoutError:
        pass
    finally:
        transport.close()


def split(items: list, parts: int) -> list[list]:
    """``items`` in up to ``parts`` groups of nearly equal size (none empty)."""
    parts = max(1, min(parts, len(items)))
    return [items[i::parts] for i in range(parts)]


async def viewers_in_process(viewers: list[Viewer], port: int, stream: str, stop_at: float) -> None:
    """Run ``viewers`` in a process of their own (``--viewers-child``), filling them in from what it reports.

    Both processes' event loops keep time on the system's monotonic clock, so the times a child reports
    compare directly with the camera's."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--viewers-child", str(port), stream, str(len(viewers)), repr(stop_at),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    reports = json.loads(out) if child.returncode == 0 else []
    for viewer, report in zip(viewers, reports):
        for key, value in report.items():
            setattr(viewer, key, value)
    if len(reports) != len(viewers):
        for viewer in viewers[len(reports):]:
            viewer.failure = f"the readers' process ended with {child.returncode}"


def viewers_child(port: int, stream: str, count: int, stop_at: float) -> None:
    """``count`` readers of ``stream`` on this process's own event loop; prints what each saw (JSON)."""
    viewers = [Viewer() for _ in range(count)]

    async def run() -> None:
        await asyncio.gather(*(run_viewer(v, port, stream, stop_at) for v in viewers))

    asyncio.run(run())
    print(json.dumps([vars(v) for v in viewers]))


# ---------------------------------------------------------------- one variant
async def loop_lag(samples: list[float], until: float) -> None:
    """How late the event loop wakes a 10 ms sleep: a busy client shows here."""
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        t = loop.time()
        await asyncio.sleep(0.01)
        samples.append(loop.time() - t - 0.01)


async def connect(cam: Camera, port: int, gate: asyncio.Semaphore, tls: ssl.SSLContext | None) -> None:
    async with gate:
        cam.reader, cam.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20, ssl=tls)


def log_tracebacks(server: KvsServer) -> tuple[int, str]:
    text = server.read_log()
    count = text.count("Traceback (most recent call last)")
    last = ""
    if count:
        last = text[text.rindex("Traceback (most recent call last)"):].strip().splitlines()[-1][:200]
    return count, last


async def stream_cameras(server: KvsServer, media: Media, streams: list[str], seconds: int,
                         viewers: list[Viewer] | None = None, reader_processes: int = 1, tls: bool = False) -> dict:
    """N cameras (one per stream) for ``seconds`` each, plus ``viewers`` on the first stream (spread over
    ``reader_processes`` processes); measures the window in which every camera streams (from the last camera's
    start to the first camera's end). ``tls``: the cameras connect over HTTPS, as the C producer SDK does."""
    loop = asyncio.get_running_loop()
    n = len(streams)
    fragments = max(2, seconds // FRAGMENT_S)
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    lead = 1.0 + n * 0.01
    base, wall = loop.time() + lead, time.time() + lead
    spread = FRAGMENT_S * (1 - 1 / n) if n > 1 else 0.0
    cams = []
    for i, stream in enumerate(streams):
        offset = spread * i / max(1, n - 1)
        cams.append(Camera(stream, base + offset, int((wall + offset) * 1000)))
    context = server.ssl_context() if tls else None
    await asyncio.gather(*(connect(c, server.port, gate, context) for c in cams))
    if loop.time() > base - 0.2:  # connecting took longer than planned: move the start
        shift = loop.time() + 0.5 - base
        for c in cams:
            c.start_at += shift
            c.tc0 += int(shift * 1000)
        base += shift
    fleet = Fleet()
    window = (base + spread + 0.5, base + fragments * FRAGMENT_S - 0.2)
    lags: list[float] = []
    tasks = [asyncio.create_task(run_camera(c, media, fragments, fleet)) for c in cams]
    viewer_tasks = []
    if viewers:
        stop_at = base + fragments * FRAGMENT_S + 3
        await asyncio.sleep(max(0.0, base + 0.3 - loop.time()))  # NOW: after the camera has started
        viewer_tasks = [
            asyncio.create_task(viewers_in_process(group, server.port, streams[0], stop_at))
            for group in split(viewers, reader_processes)
        ]
    await asyncio.sleep(max(0.0, window[0] - loop.time()))
    lag_task = asyncio.create_task(loop_lag(lags, window[1]))
    pid = server.process.pid
    s0, c0, b0, w0, t0 = cpu_seconds(f"/proc/{pid}/stat"), own_cpu_seconds(), fleet.sent, proc_written(pid), time.monotonic()
    await asyncio.sleep(max(0.0, window[1] - loop.time()))
    s1, c1, b1, w1, t1 = cpu_seconds(f"/proc/{pid}/stat"), own_cpu_seconds(), fleet.sent, proc_written(pid), time.monotonic()
    load = os.getloadavg()[0]
    threads = proc_status(pid, "Threads") // 1024
    await lag_task
    await asyncio.gather(*tasks, *viewer_tasks)
    span = t1 - t0
    acks = [c.persisted[tc] - c.complete[tc] for c in cams for tc in c.complete if tc in c.persisted]
    expected = n * fragments
    persisted = sum(len(c.persisted) for c in cams)
    failures = [c.failure for c in cams if c.failure]
    tracebacks, last_traceback = log_tracebacks(server)
    late = [x for c in cams for x in c.late]
    return {
        "n": n,
        "offered": n * media.fragment_bytes / FRAGMENT_S / MB,
        "sent": (b1 - b0) / span / MB,
        "server_cpu": (s1 - s0) / span * 100,
        "disk": (w1 - w0) / span / MB,
        "threads": threads,
        "client_cpu": (c1 - c0) / span * 100,
        "rss": proc_status(pid, "VmRSS") / MB,
        "hwm": proc_status(pid, "VmHWM") / MB,
        "ack_p50": pct(acks, 0.5) * 1000,
        "ack_p99": pct(acks, 0.99) * 1000,
        "persisted": persisted,
        "expected": expected,
        "error_acks": sum(len(c.error_acks) for c in cams),
        "failures": len(failures),
        "failure_example": failures[0] if failures else (cams[0].error_acks[0] if cams[0].error_acks else ""),
        "tracebacks": tracebacks,
        "last_traceback": last_traceback,
        "late_p99": pct(late, 0.99) * 1000,
        "late_max": max(late, default=math.nan) * 1000,
        "stalled": sum(c.stalled for c in cams),
        "loop_lag_p99": pct(lags, 0.99) * 1000,
        "load": load,
        "cams": cams,
    }


def held(r: dict) -> bool:
    """The server kept up with N real-time cameras."""
    return (r["error_acks"] == 0 and r["failures"] == 0 and r["tracebacks"] == 0
            and r["persisted"] == r["expected"] and r["sent"] >= 0.97 * r["offered"]
            and r["ack_p99"] < FRAGMENT_MS)


def why_not(r: dict) -> str:
    """What kept a run from holding."""
    bits = []
    if r["sent"] < 0.97 * r["offered"]:
        bits.append(f"sent {r['sent']:.0f} of {r['offered']:.0f} MB/s")
    if not r["ack_p99"] < FRAGMENT_MS:
        bits.append(f"ACK p99 {r['ack_p99'] / 1000:.1f} s")
    errors = errors_cell([r])
    if errors != "0":
        bits.append(errors)
    return ", ".join(bits)


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free


def run_variant(mode: str, n: int, seconds: int, media: Media, tmp: Path, readers: int = 0,
                reader_quotas: str = "service", reader_processes: int = 1, tls: bool = False) -> dict:
    """A fresh server, N cameras (or one camera and ``readers`` readers), the server stopped, its files deleted."""
    need = int(n * media.fragment_bytes / FRAGMENT_S * (seconds + 10) * 1.2) + 2 * 1024 * MB
    if free_bytes(tmp) < need:
        raise SystemExit(f"not enough free space in {tmp}: {free_bytes(tmp) / 1024 / MB:.1f} GiB "
                         f"for {need / 1024 / MB:.1f} GiB")
    work = Path(tempfile.mkdtemp(prefix="kvsmock-cameras-", dir=tmp))
    server = start_server(mode, work, quotas=reader_quotas if readers else "off", tls=tls)  # see the module docstring
    try:
        kv = server.kinesisvideo
        streams = [f"camera-{i:04d}" for i in range(n)]
        for name in streams:
            kv.create_stream(StreamName=name, DataRetentionInHours=RETENTION_HOURS)
        viewers = [Viewer() for _ in range(readers)]
        result = asyncio.run(stream_cameras(server, media, streams, seconds, viewers or None, reader_processes, tls))
        result["mode"] = mode
        if readers:
            cam = result["cams"][0]
            admitted = [v for v in viewers if v.admitted]

            def delays(v: Viewer, seen: dict[str, float]) -> list[float]:
                """From each fragment's completing byte to ``seen``, for the fragments completed after ``v`` asked:
                NOW sends the latest one stored at once, however long before the reader (its process started
                late) asked for it."""
                asked = v.asked_at if v.asked_at is not None else float("inf")
                out = []
                for number, t in seen.items():
                    tc = cam.numbers.get(number)
                    completed = cam.complete.get(tc) if tc is not None else None
                    if completed is not None and completed >= asked:
                        out.append(t - completed)
                return out

            whole = [d for v in admitted for d in delays(v, v.whole)]
            first = [d for v in admitted for d in delays(v, v.first)]
            result.update(
                m=readers,
                quotas=reader_quotas,
                admitted=len(admitted),
                refused=sum(v.refused for v in viewers),
                reader_failures=sum(1 for v in viewers if v.failure),
                reader_failure_example=next((v.failure for v in viewers if v.failure), ""),
                delivered=len(whole),
                whole_p50=pct(whole, 0.5) * 1000,
                whole_p99=pct(whole, 0.99) * 1000,
                first_p50=pct(first, 0.5) * 1000,
                first_p99=pct(first, 0.99) * 1000,
            )
        del result["cams"]
        return result
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
        os.sync()  # untimed: what this variant wrote is not flushed during the next one


# ---------------------------------------------------------------- report
def med(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if not math.isnan(r[key])]
    return statistics.median(values) if values else math.nan


def fmt(value: float, digits: int = 0) -> str:
    return "n/a" if math.isnan(value) else f"{value:.{digits}f}"


def both(runs: list[dict], key: str, digits: int = 0) -> str:
    """The median, and each round's value when there were several."""
    text = fmt(med(runs, key), digits)
    if len(runs) > 1:
        text += " (" + " / ".join(fmt(r[key], digits) for r in runs) + ")"
    return text


def errors_cell(runs: list[dict]) -> str:
    parts = []
    for r in runs:
        bits = []
        if r["error_acks"]:
            bits.append(f"{r['error_acks']} ERROR ACKs")
        if r["failures"]:
            bits.append(f"{r['failures']} conn. failed")
        if r["persisted"] != r["expected"]:
            bits.append(f"{r['expected'] - r['persisted']} not PERSISTED")
        if r["tracebacks"]:
            bits.append(f"{r['tracebacks']} tracebacks")
        parts.append(", ".join(bits) or "0")
    return " / ".join(parts)


def camera_rows(results: list[dict]) -> list[tuple]:
    rows = []
    keys = sorted({(r["n"], r["mode"]) for r in results}, key=lambda k: (k[0], MODES.index(k[1])))
    for n, mode in keys:
        runs = [r for r in results if r["n"] == n and r["mode"] == mode]
        verdict = "yes" if all(held(r) for r in runs) else "**no**"
        rows.append((
            mode, n, len(runs), fmt(med(runs, "offered"), 1), both(runs, "sent", 1), both(runs, "server_cpu"),
            both(runs, "client_cpu"), both(runs, "disk", 1), f"{fmt(med(runs, 'rss'))} / {fmt(med(runs, 'hwm'))}",
            f"{both(runs, 'ack_p50', 1)} / {both(runs, 'ack_p99', 1)}",
            f"{sum(r['persisted'] for r in runs)} / {sum(r['expected'] for r in runs)}", errors_cell(runs),
            f"{fmt(med(runs, 'late_p99'), 1)} / {fmt(med(runs, 'loop_lag_p99'), 1)}", fmt(med(runs, "load"), 1),
            verdict,
        ))
    return rows


def reader_rows(results: list[dict]) -> list[str]:
    lines = [
        "| mode | quotas | M readers | rounds | admitted / refused (ConnectionLimitExceeded, ClientLimitExceeded) | delivery p50 / p99 ms, whole chunk "
        "(admitted readers) | FRAGMENT_NUMBER seen p50 / p99 ms | ACK p50 / p99 ms | fragments delivered "
        "| server CPU % | RSS end / peak MB | other errors | load (1 min) |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    keys = sorted({(r["quotas"], r["m"], r["mode"]) for r in results},
                  key=lambda k: (k[0] != "service", k[1], MODES.index(k[2])))
    for quotas, m, mode in keys:
        runs = [r for r in results if (r["quotas"], r["m"], r["mode"]) == (quotas, m, mode)]
        other = " / ".join(
            ", ".join(b for b in (
                f"{r['reader_failures']} reader failures ({r['reader_failure_example'][:80]})" if r["reader_failures"] else "",
                errors_cell([r]) if errors_cell([r]) != "0" else "") if b) or "0"
            for r in runs)
        lines.append("| " + " | ".join(str(c) for c in (
            mode, quotas, m, len(runs), "; ".join(sorted({f"{r['admitted']} / {r['refused']}" for r in runs})),
            f"{both(runs, 'whole_p50', 1)} / {both(runs, 'whole_p99', 1)}",
            f"{both(runs, 'first_p50', 1)} / {both(runs, 'first_p99', 1)}",
            f"{fmt(med(runs, 'ack_p50'), 1)} / {fmt(med(runs, 'ack_p99'), 1)}",
            sum(r["delivered"] for r in runs), both(runs, "server_cpu"),
            f"{fmt(med(runs, 'rss'))} / {fmt(med(runs, 'hwm'))}", other, fmt(med(runs, "load"), 1),
        )) + " |")
    return lines


def summary(results: list[dict]) -> list[str]:
    """Where the server stops keeping up, and whether the client was the bottleneck."""
    lines = []
    for mode in MODES:
        runs = [r for r in results if r["mode"] == mode]
        ok = sorted({r["n"] for r in runs if all(held(x) for x in runs if x["n"] == r["n"])})
        bad = sorted({r["n"] for r in runs} - set(ok))
        if bad:
            first_bad = bad[0]
            failed = [r for r in runs if r["n"] == first_bad and not held(r)]
            lines.append(f"- {mode}: kept up with up to {ok[-1] if ok else 0} cameras; at {first_bad} it did not in "
                         f"{len(failed)} of {sum(r['n'] == first_bad for r in runs)} rounds ("
                         + "; ".join(why_not(r) + f", load {r['load']:.1f}" for r in failed) + ").")
        elif ok:
            lines.append(f"- {mode}: kept up with every N tried (up to {ok[-1]} cameras).")
    busy = [r for r in results if r["client_cpu"] >= 80]
    top = max(results, key=lambda r: r["client_cpu"], default=None)
    if busy:
        lines.append("- The client was busy (>= 80 % of the one core its event loop can use) in: " + ", ".join(
            f"{r['mode']} N={r['n']} ({r['client_cpu']:.0f} %)" for r in busy)
            + ": those rows measure the client as much as the server.")
    elif top is not None:
        lines.append(f"- The client was not the bottleneck: its CPU peaked at {top['client_cpu']:.0f} % of one core "
                     f"({top['mode']}, N={top['n']}). Its event loop still woke late at times (p99 lag up to "
                     f"{max(r['loop_lag_p99'] for r in results):.0f} ms) with its CPU that low: the machine's other "
                     "load (see the load average) kept it from running, not its own work.")
    tb = [r for r in results if r["tracebacks"]]
    for r in tb[:3]:
        lines.append(f"- Server log ({r['mode']}, N={r['n']}): {r['tracebacks']} tracebacks, last: {r['last_traceback']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="seconds each camera streams per variant")
    parser.add_argument("--cameras", default="1,10,100,300", help="camera counts N")
    parser.add_argument("--more", default="500,1000",
                        help="larger N tried (one round each) while the largest keeps up; '' for none")
    parser.add_argument("--readers", default="1,10,50", help="GetMedia(NOW) reader counts M on one stream")
    parser.add_argument("--reader-seconds", type=int, default=30)
    parser.add_argument("--reader-quotas", default="service,off",
                        help="the reader variants' --quotas, each run in turn: 'service' (3 readers admitted), "
                             "'off' (all M admitted: the fan-out cost)")
    parser.add_argument("--reader-processes", type=int, default=4,
                        help="client processes the readers are spread over (each its own event loop)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-frames", type=int, default=1, help="frames per HTTP chunk (1: each at its due time)")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--tmp", default=tempfile.gettempdir(), help="where --data-dir directories go")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10 s, N=1,10, M=1,10, one round, no file")
    parser.add_argument("--tls", action="store_true",
                        help="cameras connect over HTTPS (the server's local CA), as the C producer SDK and kvssink "
                             "do; results go to cameras-tls.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.reader_seconds, args.rounds = 10, 10, 1
        args.cameras, args.readers, args.more, args.no_write = "1,10", "1,10", "", True
    if FRAMES % args.batch_frames:
        parser.error(f"--batch-frames must divide {FRAMES}")
    cameras = [int(x) for x in args.cameras.split(",") if x]
    more = [int(x) for x in args.more.split(",") if x]
    reader_counts = [int(x) for x in args.readers.split(",") if x]
    reader_quotas = [q for q in args.reader_quotas.split(",") if q]
    if not set(reader_quotas) <= {"service", "off"}:
        parser.error("--reader-quotas takes service, off or both")
    modes = [m for m in args.modes.split(",") if m]
    tmp = Path(args.tmp)
    media = Media(args.batch_frames)
    from media import host_speed  # here: the readers' processes (this script too) need none of what it imports

    speed = host_speed()
    print(f"Host: {speed}", flush=True)
    started, load_start = time.monotonic(), os.getloadavg()
    camera_results: list[dict] = []
    reader_results: list[dict] = []

    def note(r: dict) -> None:
        what = f"M={r['m']} quotas {r['quotas']} admitted {r['admitted']} refused {r['refused']} delivery p50 {fmt(r['whole_p50'], 1)} " \
               f"p99 {fmt(r['whole_p99'], 1)} ms; " if "m" in r else ""
        print(f"[{time.monotonic() - started:5.0f} s] {r['mode']:8} N={r['n']:<4} {what}sent {r['sent']:.1f}/"
              f"{r['offered']:.1f} MB/s server {r['server_cpu']:.0f} % client {r['client_cpu']:.0f} % "
              f"disk {r['disk']:.1f} MB/s threads {r['threads']} RSS {r['rss']:.0f}/{r['hwm']:.0f} MB ACK p50 {fmt(r['ack_p50'], 1)} p99 {fmt(r['ack_p99'], 1)} ms "
              f"persisted {r['persisted']}/{r['expected']} errors {errors_cell([r])} "
              f"late p99 {fmt(r['late_p99'], 1)} ms loop lag p99 {fmt(r['loop_lag_p99'], 1)} ms "
              f"load {r['load']:.1f} {r['failure_example'] or ''}", flush=True)

    for r in range(args.rounds):
        order = modes[r % len(modes):] + modes[: r % len(modes)]
        for n in cameras:
            for mode in order:
                camera_results.append(run_variant(mode, n, args.seconds, media, tmp, tls=args.tls))
                note(camera_results[-1])
        for quotas in reader_quotas:
            for m in reader_counts:
                if quotas == "off" and m <= 3:
                    continue  # the service's limit admits them all already
                for mode in order:
                    reader_results.append(
                        run_variant(mode, 1, args.reader_seconds, media, tmp, readers=m, reader_quotas=quotas,
                                    reader_processes=args.reader_processes, tls=args.tls)
                    )
                    note(reader_results[-1])
    largest = max(cameras, default=0)
    for n in sorted(x for x in more if x > largest):
        if not all(held(x) for x in camera_results if x["n"] == largest):
            break
        for mode in modes:
            camera_results.append(run_variant(mode, n, args.seconds, media, tmp, tls=args.tls))
            note(camera_results[-1])
        largest = n

    elapsed = time.monotonic() - started
    load_end = os.getloadavg()
    intro = [
        f"Camera scale benchmark: N real-time cameras against `kvsmock server` (in memory, and with `--data-dir` on "
        f"{tmp}), each one PutMedia connection{' over HTTPS (the server answering with its local CA)' if args.tls else ''} streaming {KBPS / 1000:g} Mbit/s ({media.fragment_bytes / MB:.2f} MB "
        f"per 2-s fragment, {FPS} fps, keyframe every {FRAMES} frames, {'each frame' if args.batch_frames == 1 else f'{args.batch_frames} frames'} "
        f"sent as one chunk at its due time), ABSOLUTE timecodes, the C producer SDK's layout (unknown-size "
        f"Clusters, one per fragment), {args.seconds} s per variant, streams with DataRetentionInHours "
        f"{RETENTION_HOURS}; a fresh server per variant; variants alternate (memory / data-dir, order rotating), "
        f"medians of {args.rounds} round(s) (each round's value in brackets). The camera variants run the server "
        "with `--quotas off` (hundreds of CreateStream calls at once are more than the service's 50 a second).",
        "",
        f"Machine: {os.cpu_count()} CPUs, shared (other work ran too): load average (1/5/15 min) "
        f"{load_start[0]:.1f} / {load_start[1]:.1f} / {load_start[2]:.1f} at the start, "
        f"{load_end[0]:.1f} / {load_end[1]:.1f} / {load_end[2]:.1f} at the end; the cameras (one asyncio event "
        f"loop) can use one core; the readers run in {args.reader_processes} processes of their own. At the start, {speed}. "
        f"Run time {elapsed / 60:.1f} min. "
        f"`python benchmarks/cameras.py{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}`"
        + ("" if (argv if argv is not None else sys.argv[1:]) else " (the defaults)"),
        "",
        "Columns: sent MB/s = bytes the cameras wrote while all N streamed (offered = N x nominal); CPU = % of one "
        "core over that window; server disk writes = its /proc/PID/io write_bytes over the window (the --data-dir "
        "store; in memory, the spill files past its 1 GiB media budget); ACK = from writing the byte that completes "
        "a fragment (the next Cluster's head, or the body's end) to reading its PERSISTED ACK; late = p99 of how "
        "late the cameras wrote frames after their due time (waiting for a server that does not read counts); loop "
        "lag = p99 of how late the client's event loop woke from a 10 ms sleep (with the client's CPU low, that is "
        "the machine's other load); held = no errors, every fragment PERSISTED, sent >= 97 % of offered, ACK p99 "
        "< 2 s. MB = 2^20 bytes.",
    ]
    columns = ["mode", "N cameras", "rounds", "offered MB/s", "sent MB/s", "server CPU %", "client CPU %",
               "server disk writes MB/s", "RSS end / peak MB", "ACK p50 / p99 ms", "PERSISTED / expected", "errors",
               "late / loop lag p99 ms", "load (1 min)", "held"]
    aligns = ["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---", "---:", "---:", "---"]
    footer = ["Findings:", *summary(camera_results)]
    if reader_results:
        footer += [
            "",
            f"Readers: one camera (as above) on one stream and M GetMedia (StartSelectorType NOW) readers for "
            f"{args.reader_seconds} s. The service (and kvsmock) allow 3 GetMedia connections and 5 GetMedia calls a "
            "second per stream: readers past the third are refused with ConnectionLimitExceededException, or "
            "ClientLimitExceededException past the fifth call in a second (counted, not retried); delivery latency is for "
            "the admitted readers only: from the producer writing the byte that completes a fragment to the reader "
            "having its whole GetMedia chunk (the trailing CONTINUATION_TOKEN tag), and to the reader seeing the chunk's "
            "FRAGMENT_NUMBER tag (the chunk's start), for the fragments completed after the reader sent its request "
            "(NOW starts with the latest stored, which a reader that asked late gets at once). With quotas off (`--quotas off`, the benchmark only) every "
            "reader is admitted: what the fan-out of one fragment to M readers costs.",
            "",
            *reader_rows(reader_results),
        ]
    publish("cameras-tls" if args.tls else "cameras", intro, columns, aligns, camera_rows(camera_results), footer=footer, write=not args.no_write)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--viewers-child"]:
        viewers_child(int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
        sys.exit(0)
    sys.exit(main())
