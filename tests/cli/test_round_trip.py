"""put-media, fragments, streams and get-media as subprocesses: what goes in comes back out."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from datetime import datetime, timezone

import pytest

import kvsmock
from helpers.producers import split_at_clusters
from kvsmock import read_fragments, sample_mkv


def frames(media: bytes) -> list[bytes]:
    return [frame.data for fragment in read_fragments(media) for frame in fragment.frames]


def acks(stdout: bytes) -> list[dict]:
    """The ACK events put-media printed, one JSON object a line."""
    return [json.loads(line) for line in stdout.decode().splitlines()]


def persisted(events: list[dict]) -> list[str]:
    return [e["FragmentNumber"] for e in events if e["EventType"] == "PERSISTED"]


def table(stdout: bytes) -> list[list[str]]:
    """The rows of a printed table, header first, cells split on runs of two or more spaces."""
    import re

    return [re.split(r" {2,}", line.strip()) for line in stdout.decode().splitlines()]


def test_version(cli):
    out = cli.ok("--version")
    assert out.stdout.decode() == f"kvsmock {kvsmock.__version__}\n"


def test_put_a_file_then_list_and_read_it_back(cli, tmp_path):
    media = sample_mkv(duration_s=6, fragment_s=2)
    (tmp_path / "cam.mkv").write_bytes(media)

    put = cli.ok("put-media", "--stream", "cam", "--create", "cam.mkv")
    events = acks(put.stdout)
    numbers = persisted(events)
    assert len(numbers) == 3 and not [e for e in events if e["EventType"] == "ERROR"]
    assert put.stderr == ""  # no progress line: stderr is no terminal

    rows = table(cli.ok("fragments", "--stream", "cam").stdout)
    assert rows[0] == ["FRAGMENT NUMBER", "PRODUCER TIMESTAMP", "SERVER TIMESTAMP", "DURATION (s)", "SIZE (bytes)"]
    assert [r[0] for r in rows[1:]] == numbers
    assert all(r[3] == "2.000" and int(r[4]) > 0 for r in rows[1:])
    listed = [json.loads(line) for line in cli.ok("fragments", "--stream", "cam", "--json").stdout.splitlines()]
    assert [f["FragmentNumber"] for f in listed] == numbers
    assert [r[1] for r in rows[1:]] == [f["ProducerTimestamp"] for f in listed]

    rows = table(cli.ok("streams").stdout)
    assert rows[0] == ["NAME", "STATUS", "RETENTION (h)", "MEDIA TYPE", "CREATED"]
    assert rows[1][:4] == ["cam", "ACTIVE", "24", "-"]

    got = cli.ok("get-media", "--stream", "cam").stdout  # to stdout (a pipe), until the server ends it
    assert [f.fragment_number for f in read_fragments(got)] == numbers
    assert frames(got) == frames(media)
    cli.ok("get-media", "--stream", "cam", "--output", "out.mkv")
    saved = (tmp_path / "out.mkv").read_bytes()  # the same fragments (their MILLIS_BEHIND_NOW tags differ)
    assert [f.fragment_number for f in read_fragments(saved)] == numbers and frames(saved) == frames(media)


def test_put_from_a_pipe_prints_each_ack_as_it_comes(cli, tmp_path):
    """The upload is read from stdin piece by piece: the first fragment is acknowledged while stdin is still open."""
    media = sample_mkv(duration_s=6, fragment_s=2, start=0)
    header, fragments = split_at_clusters(media)
    producer = subprocess.Popen(
        cli.args("put-media", "--stream", "pipe", "--create", "--retention-hours", "2", "--media-type", "video/h264",
                 "--timecode-type", "RELATIVE"),
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=cli.env, cwd=tmp_path,
    )
    lines: queue.Queue[bytes] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in producer.stdout], daemon=True)
    reader.start()
    try:
        assert producer.stdin is not None
        producer.stdin.write(header + fragments[0])
        producer.stdin.flush()
        first = []
        while not persisted(first):
            first.append(json.loads(lines.get(timeout=30)))  # fails the test (queue.Empty) if it never comes
        for fragment in fragments[1:]:
            producer.stdin.write(fragment)
        producer.stdin.close()
        assert producer.wait(timeout=60) == 0, producer.stderr.read()  # type: ignore[union-attr]
    finally:
        if producer.poll() is None:
            producer.kill()
            producer.wait()
    reader.join(timeout=30)
    rest = []
    while not lines.empty():
        rest.append(json.loads(lines.get()))
    assert len(persisted(first + rest)) == 3

    info = json.loads(cli.ok("streams", "--json").stdout)
    assert (info["StreamName"], info["DataRetentionInHours"], info["MediaType"]) == ("pipe", 2, "video/h264")
    assert frames(cli.ok("get-media", "--stream", "pipe").stdout) == frames(media)


def test_get_media_start_selectors(cli, kvs_server):
    kvs_server.kinesisvideo.create_stream(StreamName="sel", DataRetentionInHours=1)
    kvsmock.put_media("sel", media=sample_mkv(duration_s=6, fragment_s=2), endpoint_url=kvs_server.endpoint_url,
                      session=kvs_server.session())
    listed = kvs_server.archived_media("sel").list_fragments(StreamName="sel")["Fragments"]
    listed.sort(key=lambda f: int(f["FragmentNumber"]))
    numbers = [f["FragmentNumber"] for f in listed]

    def numbers_from(*start: str) -> list[str]:
        return [f.fragment_number for f in read_fragments(cli.ok("get-media", "--stream", "sel", *start).stdout)]

    second = listed[1]["ProducerTimestamp"].astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    assert numbers_from("--start", second, "--timestamp-type", "producer") == numbers[1:]
    first_server = listed[0]["ServerTimestamp"].timestamp()
    assert numbers_from("--start", f"{first_server:.3f}") == numbers  # server timestamps, epoch seconds
    assert numbers_from("--start", "NOW") == numbers[-1:]  # the latest; nothing new before the idle timeout


def test_issue_ffmpeg_pipe(cli, tmp_path):
    """The issue's producer: ``ffmpeg -re -i x.mp4 -c copy -f matroska - | kvsmock put-media --stream cam --create``."""
    import shutil

    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    write_mp4(sample_mkv(duration_s=3, fragment_s=1, start=0), tmp_path / "x.mp4")
    import shlex

    kvsmock_cmd = " ".join(shlex.quote(a) for a in cli.args("put-media", "--stream", "cam", "--create"))
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c",
         f"ffmpeg -nostdin -loglevel error -re -i x.mp4 -c copy -f matroska - | {kvsmock_cmd}"],
        capture_output=True, env=cli.env, cwd=tmp_path, timeout=120,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert len(persisted(acks(out.stdout))) >= 2
    assert len(table(cli.ok("fragments", "--stream", "cam").stdout)) - 1 == len(persisted(acks(out.stdout)))


#: FFmpeg's Matroska muxer (libavformat, through PyAV) writing a remux of x.mp4 to stdout, a pipe.
LAVF_PRODUCER = """
import sys, av

with av.open("x.mp4") as source, av.open(sys.stdout.buffer, "w", format="matroska") as output:
    video = output.add_stream_from_template(source.streams.video[0])
    for packet in source.demux(source.streams.video[0]):
        if packet.dts is not None:
            packet.stream = video
            output.mux(packet)
"""


def test_ffmpegs_matroska_through_a_pipe(cli, tmp_path):
    """What the FFmpeg pipe sends, without the ffmpeg program: its timecodes count from 0, hence RELATIVE."""
    import shlex
    import sys
    import time

    write_mp4(sample_mkv(duration_s=3, fragment_s=1, start=0), tmp_path / "x.mp4")
    (tmp_path / "producer.py").write_text(LAVF_PRODUCER)
    kvsmock_cmd = " ".join(shlex.quote(a) for a in cli.args("put-media", "--stream", "cam", "--create",
                                                             "--timecode-type", "RELATIVE"))
    before = time.time()
    out = subprocess.run(["bash", "-o", "pipefail", "-c", f"{shlex.quote(sys.executable)} producer.py | {kvsmock_cmd}"],
                         capture_output=True, env=cli.env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    assert len(persisted(acks(out.stdout))) == 3
    listed = [json.loads(line) for line in cli.ok("fragments", "--stream", "cam", "--json").stdout.splitlines()]
    first = datetime.fromisoformat(listed[0]["ProducerTimestamp"].replace("Z", "+00:00")).timestamp()
    assert before - 1 < first < time.time()  # counted from the upload's start


def write_mp4(mkv: bytes, path) -> None:
    """Remux an MKV into an MP4 file with PyAV (no re-encoding)."""
    import io

    import av

    with av.open(io.BytesIO(mkv)) as source, av.open(str(path), "w", format="mp4") as output:
        video = output.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = video
                output.mux(packet)


def test_timestamps_print_as_utc():
    from kvsmock.commands.get_media import parse_timestamp, start_selector
    from kvsmock.commands.table import iso

    moment = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=timezone.utc)
    assert iso(moment) == "2024-05-01T12:00:00.250Z"
    for text in ("2024-05-01T12:00:00.250Z", "2024-05-01T12:00:00.250", "2024-05-01T14:00:00.250+02:00",
                 str(moment.timestamp())):
        assert parse_timestamp(text) == moment, text
    assert start_selector("earliest", "server") == {"StartSelectorType": "EARLIEST"}
    assert start_selector("1714564800.25", "producer") == {
        "StartSelectorType": "PRODUCER_TIMESTAMP", "StartTimestamp": moment}
