"""Durable store benchmark: ``kvsmock server --data-dir`` next to the in-memory server and plain file writes.

Prints, from one run (ratios matter: this machine is shared and noisy; every
comparison below is made within the run, in alternating rounds):

(1) PutMedia ingest MB/s over HTTP (``kvsmock.put_media``, the same bytes
    every time: ~1 MB, 2-second fragments, random frame payloads, streams
    with ``DataRetentionInHours`` 24) into
      (a) the server with ``--data-dir`` (every fragment: a file written,
          fdatasync'ed, its directory fsynced, then its index row committed
          with ``synchronous=FULL`` before the PERSISTED ACK),
      (b) the in-memory server,
    next to a plain write of the same bytes, fragment by fragment, to one
    file in the same filesystem as the data directory,
      (c1) with ``fdatasync`` after each fragment: the same durability
           promise as PERSISTED, the FAIR comparison,
      (c2) without any fsync (the page cache only; for reference),
      (c3) for the breakdown, one file per fragment with ``fdatasync`` and a
           directory fsync, the file layout of ``--data-dir`` without HTTP,
           MKV parsing, encryption or SQLite;
    median of ``--rounds`` rounds, the variants' order rotating each round,
    with a ``sync`` (untimed) after each variant so no write-back leaks into
    the next. Ratios (a)/(b), (a)/(c1), (a)/(c2). Target (the issue's):
    (a) >= 0.5 x (c1).
(2) the time ``--data-dir`` adds per fragment: ((a) - (b)) / fragments, in ms.
(3) RSS of the ``--data-dir`` server while ``--stored-gb`` GiB (default 5)
    are stored (the ingest media uploaded again and again, a new
    ``producer_start_timestamp`` each time, round robin over several
    streams): at 0, after each GiB and at the end, its peak (VmHWM), the data
    directory's size on disk, and the RSS after a restart holding it all.
    Target: RSS < 300 MB.
(4) restart time: from starting the process to ``/_kvsmock/health``
    answering, for a data directory holding ``--restart-fragments`` (10,000)
    small (~10 KB) fragments, an empty data directory, and the in-memory
    server; median of ``--rounds``. ListFragments (paginated) is checked to
    list every fragment after each restart.
(5) read MB/s after a restart of the ``--data-dir`` server (kvsmock keeps no
    fragment bytes in memory; the OS page cache may still hold the files:
    "warm"), GetMediaForFragmentList and GetMedia (StartSelector EARLIEST)
    over the stream ingested in (1), next to the same reads from the
    in-memory server, and once more with the files evicted from the page
    cache first (``posix_fadvise(DONTNEED)``: "cold"; the VM's host may
    still cache the disk).

Everything is written under a temporary directory in ``--tmp`` (default
/tmp), deleted at the end; free space is checked first. The servers run with
``--quotas off``: reading 10,000 fragments in a few seconds (ListFragments
pages, GetMediaForFragmentList of 1,000 fragments a call) is more than the
service allows (10,000 fragment-metadata and 500 fragment-media points a
second per stream).

    python benchmarks/durable.py [--quick] [--ingest-mb 200] [--rounds 3] [--stored-gb 5]
                                 [--restart-fragments 10000] [--tmp /tmp]

``--quick`` is a smoke run of about a minute with small sizes (it does not
write results/durable.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

from conftest_plugin import KvsServer
from kvsmock import put_media
from kvsmock.media import ebml
from kvsmock.media.ebml.writing import tags_element
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, cluster_element, header_elements
from kvsmock.media.matroska.tags import END_OF_FRAGMENT
from proc_stats import proc_status
from report import publish

MB = 1024 * 1024
GB = 1024 * MB
RETENTION_HOURS = 24
PRODUCER_START = 1_700_000_000  # epoch seconds; each upload starts after the media of the one before
MARKER = b"AWS_KINESISVIDEO_CONTINUATION_TOKEN"  # in the Tags after every fragment GetMedia sends
AUTH = {  # kvsmock does not check signatures
    "Content-Type": "application/json",
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/kinesisvideo/aws4_request, "
    "SignedHeaders=host, Signature=0",
}


# ---------------------------------------------------------------- media
def build_media(count: int, fragment_bytes: int, fragment_s: int, fps: int) -> tuple[bytes, list[bytes]]:
    """The MKV header and ``count`` fragments in the producer SDK's layout (unknown-size Cluster +
    END_OF_FRAGMENT Tags) with RELATIVE timecodes from 0; random payloads (ingest does not decode)."""
    track = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, b"\x01\x64\x00\x1f\xff\xe1\x00\x00\x01\x00\x00",
                      width=1280, height=720)
    header = ebml.ebml_header("matroska") + ebml.UNKNOWN_SIZE_SEGMENT_HEADER + header_elements([track])
    frames = fps * fragment_s
    per_frame = max(1, fragment_bytes // frames)
    pool = os.urandom(max(per_frame * 64, 1 << 20))
    eof_tags = tags_element([(END_OF_FRAGMENT, "")])
    clusters = []
    for f in range(count):
        packets = []
        for i in range(frames):
            offset = (f * 7919 + i * 104729) % (len(pool) - per_frame)
            packets.append(Packet(1, (f * frames + i) * 1000 // fps, i == 0, pool[offset : offset + per_frame]))
        clusters.append(cluster_element(packets[0].time_ms, packets, unknown_size=True) + eof_tags)
    return header, clusters


class Uploads:
    """Uploads the same media again and again, each after the media of the one before."""

    def __init__(self, header: bytes, clusters: list[bytes], fragment_s: int):
        self.body = header + b"".join(clusters)
        self.count = len(clusters)
        self.span = self.count * fragment_s + 10
        self.next_start = PRODUCER_START

    def put(self, server: KvsServer, stream: str) -> float:
        """Upload once; returns the seconds it took (checks every fragment was PERSISTED)."""
        start_ts, self.next_start = self.next_start, self.next_start + self.span
        started = time.perf_counter()
        acks = put_media(stream, media=self.body, endpoint_url=server.endpoint_url, session=server.session(),
                         timecode_type="RELATIVE", producer_start_timestamp=start_ts)
        elapsed = time.perf_counter() - started
        persisted = sum(a["EventType"] == "PERSISTED" for a in acks)
        if persisted != self.count:
            raise SystemExit(f"{stream}: {persisted} PERSISTED ACKs for {self.count} fragments: {acks[-3:]}")
        return elapsed


# ---------------------------------------------------------------- servers and the machine
class TimedServer(KvsServer):
    """A KvsServer that polls /_kvsmock/health every few ms and records how long the start took."""

    def __init__(self, data_dir: Path | None):
        self.t0 = time.perf_counter()
        self.ready_after = float("nan")
        extra = ["--tls", "off", "--quotas", "off"] + (["--data-dir", str(data_dir)] if data_dir is not None else [])
        super().__init__(extra_args=extra)

    def _wait_ready(self, timeout: float = 300.0) -> None:
        url = f"{self.endpoint_url}/_kvsmock/health"
        deadline = time.monotonic() + timeout
        with requests.Session() as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"kvsmock server exited early:\n{self.read_log()}")
                try:
                    if http.get(url, timeout=1).ok:
                        self.ready_after = time.perf_counter() - self.t0
                        return
                except requests.RequestException:
                    pass
                time.sleep(0.003)
        self.stop()
        raise RuntimeError("kvsmock server did not become ready")


def disk_usage(path: Path) -> tuple[int, int, int]:
    """(bytes on disk, apparent bytes, files) under ``path``."""
    used = apparent = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(root, name))
            used += st.st_blocks * 512
            apparent += st.st_size
            files += 1
    return used, apparent, files


def evict_page_cache(path: Path) -> int:
    """Drop the (clean) pages of every file under ``path`` from the page cache; returns the file count."""
    count = 0
    for root, _, names in os.walk(path):
        for name in names:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)
            count += 1
    return count


def filesystem_of(path: Path) -> str:
    best = ("", "?", "?")
    with open("/proc/mounts") as f:
        for line in f:
            device, mount, fstype = line.split()[:3]
            if str(path).startswith(mount) and len(mount) > len(best[0]):
                best = (mount, fstype, device)
    return f"{best[1]} on {best[2]}"


def list_all_fragments(server: KvsServer, stream: str) -> list[dict]:
    client = server.archived_media(stream)
    out, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.list_fragments(StreamName=stream, MaxResults=1000, **kwargs)
        out += page["Fragments"]
        token = page.get("NextToken")
        if not token:
            return out


def median(values: list[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- (1) + (2) ingest
def plain_write(path: Path, header: bytes, clusters: list[bytes], sync: bool) -> float:
    """Write header and fragments to one new file (fdatasync after each fragment if ``sync``); seconds."""
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, header)
        for cluster in clusters:
            view = memoryview(cluster)
            while view:
                view = view[os.write(fd, view):]
            if sync:
                os.fdatasync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def file_per_fragment(directory: Path, clusters: list[bytes]) -> float:
    """kvsmock's file layout alone: a new file per fragment, fdatasync'ed, then its directory fsynced."""
    directory.mkdir()
    started = time.perf_counter()
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        for index, cluster in enumerate(clusters):
            fd = os.open(directory / f"{index}.frag", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                view = memoryview(cluster)
                while view:
                    view = view[os.write(fd, view):]
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return time.perf_counter() - started


def ingest(args, work: Path, header: bytes, clusters: list[bytes], disk: KvsServer, memory: KvsServer,
           uploads: Uploads) -> tuple[list[tuple[str, str, str]], str]:
    """(1) and (2); leaves stream ``read`` (the same media) in both servers for (5); returns rows and its name."""
    body_mb = len(uploads.body) / MB
    n = uploads.count
    times: dict[str, list[float]] = {k: [] for k in ("a", "b", "c1", "c2", "c3")}

    def run(kind: str, r: int) -> None:
        if kind in ("a", "b"):
            server = disk if kind == "a" else memory
            stream = f"ingest-{r}"
            server.kinesisvideo.create_stream(StreamName=stream, DataRetentionInHours=RETENTION_HOURS)
            times[kind].append(uploads.put(server, stream))
            server.kinesisvideo.delete_stream(
                StreamARN=server.kinesisvideo.describe_stream(StreamName=stream)["StreamInfo"]["StreamARN"]
            )
        elif kind in ("c1", "c2"):
            path = work / f"plain-{kind}.mkv"
            times[kind].append(plain_write(path, header, clusters, sync=kind == "c1"))
            path.unlink()
        else:
            directory = work / "plain-c3"
            times[kind].append(file_per_fragment(directory, clusters))
            shutil.rmtree(directory)
        os.sync()  # untimed: nothing written by this variant is flushed during the next one

    kinds = list(times)
    for r in range(args.rounds):
        shift = r % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            run(kind, r)
    # The stream read in (5): the same media once more into each server (untimed).
    for server in (disk, memory):
        server.kinesisvideo.create_stream(StreamName="read", DataRetentionInHours=RETENTION_HOURS)
        uploads.put(server, "read")
    os.sync()

    t = {k: median(v) for k, v in times.items()}
    rate = {k: body_mb / v for k, v in t.items()}
    every = {k: " / ".join(f"{body_mb / x:.0f}" for x in v) for k, v in times.items()}
    half = rate["a"] / rate["c1"] >= 0.5
    rows = [
        ("(1a) PutMedia ingest, server with --data-dir", f"{rate['a']:.0f} MB/s",
         f"rounds {every['a']} MB/s; {n} fragments of {body_mb / n:.2f} MB, every one PERSISTED"),
        ("(1b) PutMedia ingest, in-memory server", f"{rate['b']:.0f} MB/s", f"rounds {every['b']} MB/s"),
        ("(1c1) plain write to one file, fdatasync per fragment (the fair comparison)", f"{rate['c1']:.0f} MB/s",
         f"rounds {every['c1']} MB/s; the durability PERSISTED promises"),
        ("(1c2) plain write to one file, no fsync (page cache)", f"{rate['c2']:.0f} MB/s",
         f"rounds {every['c2']} MB/s; not durable, for reference"),
        ("(1c3) plain write, a file per fragment + fdatasync + directory fsync", f"{rate['c3']:.0f} MB/s",
         f"rounds {every['c3']} MB/s; --data-dir's file layout alone (breakdown)"),
        ("ratio (a) / (b)", f"{rate['a'] / rate['b']:.2f}", "durable vs in-memory server"),
        ("ratio (a) / (c1)", f"{rate['a'] / rate['c1']:.2f}",
         f"target >= 0.5: {'met' if half else 'MISSED'}"),
        ("ratio (a) / (c2)", f"{rate['a'] / rate['c2']:.2f}", "vs an undurable write (not the target's comparison)"),
        ("(2) added per fragment by --data-dir", f"{(t['a'] - t['b']) / n * 1000:.1f} ms",
         f"((a) - (b)) / {n} fragments; a plain fdatasync'ed fragment write (c1) takes "
         f"{t['c1'] / n * 1000:.1f} ms, with a file per fragment and a directory fsync (c3) {t['c3'] / n * 1000:.1f} ms, "
         f"unsynced (c2) {t['c2'] / n * 1000:.2f} ms"),
    ]
    return rows, "read"


# ---------------------------------------------------------------- (3) RSS with many GB stored
def stored_bytes(server: KvsServer) -> int:
    report = requests.get(f"{server.endpoint_url}/_kvsmock/usage", timeout=30).json()
    return sum(s["StoredBytes"] for s in report["Streams"])


def rss_while_stored(args, work: Path, uploads: Uploads) -> list[tuple[str, str, str]]:
    data = work / "stored"
    server = TimedServer(data)
    rows = []
    try:
        streams = [f"store-{i}" for i in range(args.streams)]
        for stream in streams:
            server.kinesisvideo.create_stream(StreamName=stream, DataRetentionInHours=RETENTION_HOURS)
        pid = server.process.pid
        rss0 = proc_status(pid, "VmRSS")
        rows.append(("(3) RSS, --data-dir server, 0 GiB stored", f"{rss0 / MB:.0f} MB", f"{len(streams)} streams created"))
        target = int(args.stored_gb * GB)
        step = int(args.sample_gb * GB)
        next_mark, uploaded, index, ingest_s = step, 0, 0, 0.0
        while uploaded < target:
            ingest_s += uploads.put(server, streams[index % len(streams)])
            index += 1
            uploaded = stored_bytes(server)
            if uploaded >= next_mark or uploaded >= target:
                rss = proc_status(pid, "VmRSS")
                while next_mark <= uploaded:
                    next_mark += step
                label = f"{uploaded / GB:.2f} GiB stored"
                rows.append((f"(3) RSS, --data-dir server, {label}", f"{rss / MB:.0f} MB",
                             f"{index} uploads, {index * uploads.count} fragments; "
                             f"{'under' if rss < 300 * MB else 'OVER'} 300 MB"))
        rss = proc_status(pid, "VmRSS")
        hwm = proc_status(pid, "VmHWM")
        fragments = sum(len(list_all_fragments(server, s)) for s in streams)
        expected = index * uploads.count
        if fragments != expected:
            raise SystemExit(f"ListFragments lists {fragments} fragments, {expected} were PERSISTED")
        used, apparent, files = disk_usage(data)
        ok = rss < 300 * MB and hwm < 300 * MB
        rows.append(("(3) RSS at the end / peak (VmHWM)", f"{rss / MB:.0f} / {hwm / MB:.0f} MB",
                     f"target < 300 MB: {'met' if ok else 'MISSED'}; {uploaded / GB:.2f} GiB stored "
                     f"(usage StoredBytes) in {fragments} fragments (ListFragments), ingested at "
                     f"{uploaded / MB / ingest_s:.0f} MB/s"))
        rows.append(("(3) data directory on disk", f"{used / GB:.2f} GiB",
                     f"{apparent / GB:.2f} GiB apparent in {files} files (index.sqlite3 and WAL included)"))
        server.stop()
        started = time.perf_counter()
        server = TimedServer(data)
        restart = time.perf_counter() - started
        rss = proc_status(server.process.pid, "VmRSS")
        rows.append(("(3) RSS after a restart holding it all", f"{rss / MB:.0f} MB",
                     f"start-up to health answering {restart:.2f} s"))
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    return rows


# ---------------------------------------------------------------- (4) restart time
def restart_time(args, work: Path) -> list[tuple[str, str, str]]:
    per_upload = min(1000, args.restart_fragments)
    uploads_needed = -(-args.restart_fragments // per_upload)
    header, clusters = build_media(per_upload, args.small_fragment_kb * 1024, fragment_s=1, fps=5)
    small = Uploads(header, clusters, fragment_s=1)
    full, empty = work / "restart-full", work / "restart-empty"
    server = TimedServer(full)
    try:
        server.kinesisvideo.create_stream(StreamName="many", DataRetentionInHours=RETENTION_HOURS)
        fill = sum(small.put(server, "many") for _ in range(uploads_needed))
    finally:
        server.stop()
    total = per_upload * uploads_needed
    TimedServer(empty).stop()  # an existing, empty data directory
    times: dict[str, list[float]] = {"full": [], "empty": [], "memory": []}
    for r in range(args.rounds):
        kinds = list(times)
        shift = r % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            server = TimedServer({"full": full, "empty": empty, "memory": None}[kind])
            try:
                times[kind].append(server.ready_after)
                if kind == "full":
                    listed = len(list_all_fragments(server, "many"))
                    if listed != total:
                        raise SystemExit(f"after a restart ListFragments lists {listed} fragments, not {total}")
            finally:
                server.stop()
    used, _, files = disk_usage(full)
    shutil.rmtree(full, ignore_errors=True)
    shutil.rmtree(empty, ignore_errors=True)
    t = {k: median(v) for k, v in times.items()}
    every = {k: " / ".join(f"{x:.2f}" for x in v) for k, v in times.items()}
    return [
        (f"(4) start-up, data dir holding {total} fragments", f"{t['full']:.2f} s",
         f"rounds {every['full']} s; ListFragments lists all {total} after each; "
         f"{used / MB:.0f} MB on disk in {files} files"),
        ("(4) start-up, empty data dir", f"{t['empty']:.2f} s", f"rounds {every['empty']} s"),
        ("(4) start-up, in-memory server", f"{t['memory']:.2f} s", f"rounds {every['memory']} s"),
        (f"(4) restore of {total} fragments", f"{(t['full'] - t['empty']) * 1000:.0f} ms",
         f"full - empty; the {total} fragments ({args.small_fragment_kb} KB each) were written at "
         f"{total / fill:.0f} fragments/s ({fill / total * 1000:.1f} ms each, one fsync'ed file + commit each)"),
    ]


# ---------------------------------------------------------------- (5) reads
def read_fragment_list(server: KvsServer, stream: str) -> tuple[int, float]:
    numbers = sorted(f["FragmentNumber"] for f in list_all_fragments(server, stream))
    client = server.archived_media(stream, "GET_MEDIA_FOR_FRAGMENT_LIST")
    started = time.perf_counter()
    got = 0
    for i in range(0, len(numbers), 1000):
        payload = client.get_media_for_fragment_list(StreamName=stream, Fragments=numbers[i : i + 1000])["Payload"]
        for piece in payload.iter_chunks(1 << 20):
            got += len(piece)
    return got, time.perf_counter() - started


def read_get_media(server: KvsServer, stream: str, fragments: int) -> tuple[int, float]:
    """GetMedia EARLIEST until every fragment has arrived (the response itself stays open while idle).

    Read with requests, each HTTP chunk as it comes: a fixed-size read (botocore's ``iter_chunks``)
    would wait for the idle timeout to fill its last piece.
    """
    url = server.data_endpoint(stream, "GET_MEDIA") + "/getMedia"
    body = {"StreamName": stream, "StartSelector": {"StartSelectorType": "EARLIEST"}}
    started = time.perf_counter()
    got = seen = 0
    tail = b""
    with requests.post(url, json=body, headers=AUTH, stream=True, timeout=120) as response:
        response.raise_for_status()
        for piece in response.iter_content(None):
            got += len(piece)
            seen += piece.count(MARKER) + (tail + piece[: len(MARKER) - 1]).count(MARKER)  # and across the cut
            tail = piece[-(len(MARKER) - 1):]
            if seen >= fragments:
                break
    elapsed = time.perf_counter() - started
    if seen < fragments:
        raise SystemExit(f"GetMedia ended after {seen} of {fragments} fragments")
    return got, elapsed


def reads(args, disk: KvsServer, memory: KvsServer, data: Path, stream: str, fragments: int) -> list[tuple[str, str, str]]:
    rates: dict[str, list[float]] = {}
    sizes: dict[str, int] = {}
    variants = [("memory", memory, False), ("warm", disk, False), ("cold", disk, True)]
    for r in range(args.rounds):
        shift = r % len(variants)
        for name, server, cold in variants[shift:] + variants[:shift]:
            for api, read in (("list", lambda s: read_fragment_list(s, stream)),
                              ("getmedia", lambda s: read_get_media(s, stream, fragments))):
                if cold:
                    evict_page_cache(data / "media")
                got, seconds = read(server)
                rates.setdefault(f"{api}-{name}", []).append(got / MB / seconds)
                sizes[api] = got
    m = {k: median(v) for k, v in rates.items()}
    every = {k: " / ".join(f"{x:.0f}" for x in v) for k, v in rates.items()}
    rows = []
    for api, title in (("list", "GetMediaForFragmentList"), ("getmedia", "GetMedia EARLIEST")):
        rows += [
            (f"(5) {title}, --data-dir server after a restart, warm page cache", f"{m[f'{api}-warm']:.0f} MB/s",
             f"rounds {every[f'{api}-warm']} MB/s; {sizes[api] / MB:.0f} MB, {fragments} fragments; "
             f"ratio to in-memory {m[f'{api}-warm'] / m[f'{api}-memory']:.2f}"),
            (f"(5) {title}, --data-dir server, files evicted from the page cache", f"{m[f'{api}-cold']:.0f} MB/s",
             f"rounds {every[f'{api}-cold']} MB/s; ratio to in-memory {m[f'{api}-cold'] / m[f'{api}-memory']:.2f}"),
            (f"(5) {title}, in-memory server", f"{m[f'{api}-memory']:.0f} MB/s", f"rounds {every[f'{api}-memory']} MB/s"),
        ]
    return rows


# ---------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest-mb", type=float, default=200, help="MB per ingest upload (default 200)")
    parser.add_argument("--fragment-kb", type=int, default=1024, help="bytes per 2-second fragment, KB (default 1024)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stored-gb", type=float, default=5, help="GiB to store for the RSS measurement (default 5)")
    parser.add_argument("--sample-gb", type=float, default=1, help="sample RSS every this many GiB (default 1)")
    parser.add_argument("--streams", type=int, default=5, help="streams the stored GiB are spread over (default 5)")
    parser.add_argument("--restart-fragments", type=int, default=10_000)
    parser.add_argument("--small-fragment-kb", type=int, default=10, help="size of the restart test's fragments")
    parser.add_argument("--tmp", default="/tmp", help="where the temporary data directories go (default /tmp)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run of about a minute: 20 MB ingest, 0.25 GiB stored, 1000 fragments "
                        "(implies --no-write)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.ingest_mb, args.stored_gb, args.sample_gb, args.restart_fragments = 20, 0.25, 0.1, 1000
        args.no_write = True

    began = time.perf_counter()
    tmp = Path(args.tmp)
    need = args.stored_gb * GB * 1.1 + 4 * args.ingest_mb * MB + args.restart_fragments * args.small_fragment_kb * 1024 * 1.5 + GB
    free = shutil.disk_usage(tmp).free
    if free < need:
        raise SystemExit(f"{tmp} has {free / GB:.1f} GiB free; this run needs about {need / GB:.1f} GiB")
    work = Path(tempfile.mkdtemp(prefix="kvsmock-durable-", dir=tmp))
    phases: list[str] = []
    count = max(1, round(args.ingest_mb * MB / (args.fragment_kb * 1024)))
    header, clusters = build_media(count, args.fragment_kb * 1024, fragment_s=2, fps=25)
    uploads = Uploads(header, clusters, fragment_s=2)
    rows: list[tuple[str, str, str]] = []
    disk = memory = None
    try:
        data = work / "ingest"
        disk, memory = TimedServer(data), TimedServer(None)
        t = time.perf_counter()
        ingest_rows, stream = ingest(args, work, header, clusters, disk, memory, uploads)
        phases.append(f"ingest {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        disk.stop()  # a restart: nothing of the stream's bytes is in kvsmock's memory now
        disk = TimedServer(data)
        read_rows = reads(args, disk, memory, data, stream, count)
        phases.append(f"reads {time.perf_counter() - t:.0f} s")
        disk.stop()
        memory.stop()
        shutil.rmtree(data, ignore_errors=True)

        t = time.perf_counter()
        rss_rows = rss_while_stored(args, work, uploads)
        phases.append(f"RSS {time.perf_counter() - t:.0f} s")

        t = time.perf_counter()
        restart_rows = restart_time(args, work)
        phases.append(f"restart {time.perf_counter() - t:.0f} s")
        rows = ingest_rows + rss_rows + restart_rows + read_rows
    finally:
        for server in (disk, memory):
            if server is not None:
                server.stop()
        shutil.rmtree(work, ignore_errors=True)

    body_mb = len(uploads.body) / MB
    intro = [
        f"Durable store benchmark (`kvsmock server --data-dir`): {count} fragments of 2 s, "
        f"{body_mb / count:.2f} MB each, random payloads ({body_mb:.0f} MB per ingest upload, through "
        f"`kvsmock.put_media` over HTTP); median of {args.rounds} alternating rounds; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (a shared machine: read the ratios); data directories and "
        f"plain-file writes on {filesystem_of(tmp)} ({tmp}). MB = 2^20 bytes, GiB = 2^30. The servers run with "
        "`--quotas off` (the reads take more fragments a second than the service's quotas allow).",
        "",
        "The fair comparison for (1a) is (1c1): a plain write with an fdatasync after each fragment, the "
        "durability a PERSISTED ACK promises (the issue's target: (a) >= 0.5 x (c1)); (1c2) never syncs and is "
        "shown for reference.",
    ]
    footer = [
        f"Targets: ingest (a) / (c1) >= 0.5; RSS < 300 MB with {args.stored_gb:g} GiB stored. "
        "Reads (5): kvsmock keeps no fragment bytes in memory after a restart; \"warm\" reads may come "
        "from the OS page cache, \"cold\" ones had the files evicted with posix_fadvise(DONTNEED) "
        "(the VM host may still cache the disk).",
        f"Run time {time.perf_counter() - began:.0f} s ({', '.join(phases)}).",
    ]
    publish("durable", intro, ["measure", "value", "reference / note"], ["---", "---:", "---"], rows,
            footer=footer, write=not args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
