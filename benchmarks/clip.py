"""GetClip benchmark: 60 s of 720p, ~4 Mbit/s H.264 in 2-second fragments, remuxed to MP4.

Prints, from one run (ratios matter: this machine is shared and noisy), the
time of

(a) GetClip of the whole range through boto3 inside ``mock_kinesisvideo``
    (request, fragment selection, codec and frame checks, PyAV remux,
    moov moved in front, the MP4 read back from the response), and
(b) a plain PyAV remux of the same MKV bytes (the stored fragments joined
    with :func:`kvsmock.service.archive.as_mkv`) to an MP4 in memory,
(c) for the breakdown, kvsmock's remux alone (:func:`kvsmock.media.clip.mkv_to_mp4`
    on the stored Clusters, already decrypted),

in alternating rounds, and the ratio (a) / (b) (target <= 1.1).

The media is made with PyAV and kvsmock's MKV writer: one 2-second GOP of
720p (a moving picture from :mod:`kvsmock.media.sample` with a noisy band,
encoded by libx264 at 4 Mbit/s) repeated for 60 s, one Cluster per GOP.

    python benchmarks/clip.py [--seconds 60] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from datetime import datetime, timezone
from fractions import Fraction

import av
import boto3
import numpy as np

from kvsmock import mock_kinesisvideo, put_media
from kvsmock.media import ebml
from kvsmock.media.matroska import Packet, TrackInfo as TrackSpec, write_mkv
from kvsmock.media.sample import _picture
from media import host_speed
from report import publish

FPS, FRAGMENT_S, KBPS, WIDTH, HEIGHT = 25, 2, 4000, 1280, 720
START = 1_700_000_000
MB = 1024 * 1024
REGION = "us-east-1"


def media(seconds: int) -> bytes:
    """``seconds`` of 720p H.264 at ~4 Mbit/s: one encoded 2-second GOP, repeated."""
    gop = FPS * FRAGMENT_S
    rng = np.random.default_rng(7)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as output:
        video = output.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = KBPS * 1000
        video.options = {
            "g": str(gop), "keyint_min": str(gop), "sc_threshold": "0", "bf": "0",
            "preset": "ultrafast", "forced-idr": "1", "maxrate": f"{KBPS}k", "bufsize": f"{KBPS}k",
        }
        for index in range(gop):
            picture = _picture(index, WIDTH, HEIGHT, np)
            picture[HEIGHT // 3 : HEIGHT // 3 + 120] = rng.integers(0, 256, (120, WIDTH, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, FPS)
            output.mux(video.encode(frame))
        output.mux(video.encode())
    buffer.seek(0)
    with av.open(buffer) as source:
        cpd = bytes(source.streams.video[0].codec_context.extradata)
        encoded = [(bytes(p), bool(p.is_keyframe)) for p in source.demux() if p.size]
    track = TrackSpec(1, "V_MPEG4/ISO/AVC", ebml.TRACK_TYPE_VIDEO, cpd, name="video",
                      default_duration=1_000_000_000 // FPS, width=WIDTH, height=HEIGHT)
    packets = []
    for repeat in range(seconds // FRAGMENT_S):
        for index, (data, key) in enumerate(encoded):
            packets.append(Packet(1, (repeat * gop + index) * 1000 // FPS, key, data))
    return write_mkv([track], packets)


def plain_remux(mkv: bytes) -> bytes:
    """The reference: PyAV demuxes the MKV and muxes every packet into an MP4, nothing else."""
    out_buf = io.BytesIO()
    with av.open(io.BytesIO(mkv), format="matroska") as inp, av.open(out_buf, "w", format="mp4") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams}
        for packet in inp.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
    return out_buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)

    speed = host_speed()
    body = media(args.seconds)
    body_mb = len(body) / MB
    with mock_kinesisvideo():
        control = boto3.client("kinesisvideo", region_name=REGION)
        control.create_stream(StreamName="bench", DataRetentionInHours=1)
        acks = put_media("bench", media=body, region_name=REGION, timecode_type="RELATIVE",
                         producer_start_timestamp=START)
        count = sum(a["EventType"] == "PERSISTED" for a in acks)
        assert count == args.seconds // FRAGMENT_S, acks[-3:]
        endpoint = control.get_data_endpoint(StreamName="bench", APIName="GET_CLIP")["DataEndpoint"]
        archive = boto3.client("kinesis-video-archived-media", endpoint_url=endpoint, region_name=REGION)
        from kvsmock.api.moto_glue import backend_for
        from kvsmock.media.clip import ClipSource, check_clip_tracks, mkv_to_mp4
        from kvsmock.service.archive import as_mkv, mkv_header

        stored = backend_for("123456789012", REGION).streams["bench"].store.snapshot()
        mkv = as_mkv(stored)  # the same MKV bytes GetClip starts from
        source = ClipSource(mkv_header(stored[0].header), [f.cluster for f in stored],
                            [f.producer_timestamp for f in stored])
        tracks = check_clip_tracks(stored[0].header.tracks)

        def get_clip() -> bytes:
            out = archive.get_clip(
                StreamName="bench",
                ClipFragmentSelector={
                    "FragmentSelectorType": "PRODUCER_TIMESTAMP",
                    "TimestampRange": {
                        "StartTimestamp": datetime.fromtimestamp(START, timezone.utc),
                        "EndTimestamp": datetime.fromtimestamp(START + args.seconds, timezone.utc),
                    },
                },
            )
            return out["Payload"].read()

        clip, reference = get_clip(), plain_remux(mkv)  # warm-up (imports, caches)
        with av.open(io.BytesIO(clip)) as c:
            frames, duration = c.streams.video[0].frames, c.duration / 1e6
        assert frames == args.seconds * FPS, frames
        kvs_times, ref_times, remux_times = [], [], []
        for _ in range(args.rounds):
            start = time.perf_counter()
            get_clip()
            kvs_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            plain_remux(mkv)
            ref_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            mkv_to_mp4(source, tracks)
            remux_times.append(time.perf_counter() - start)
    kvs_t, ref_t, remux_t = (statistics.median(t) for t in (kvs_times, ref_times, remux_times))
    rows = [
        ("(a) GetClip through boto3, in-process", f"{kvs_t * 1000:.0f} ms", f"{body_mb / kvs_t:.0f} MB/s; MP4 of {len(clip) / MB:.1f} MB, {frames} frames, {duration:.2f} s"),
        ("(b) plain PyAV remux of the same MKV bytes", f"{ref_t * 1000:.0f} ms", f"{body_mb / ref_t:.0f} MB/s; MP4 of {len(reference) / MB:.1f} MB (moov last)"),
        ("(c) kvsmock's remux alone (mkv_to_mp4)", f"{remux_t * 1000:.0f} ms", f"ratio (c) / (b) {remux_t / ref_t:.2f}; the rest of (a) is the request, fragment lookup, decryption and boto3"),
        ("ratio (a) / (b)", f"{kvs_t / ref_t:.2f}", "target <= 1.1"),
    ]
    intro = [
        f"GetClip benchmark: {args.seconds} s of {WIDTH}x{HEIGHT} H.264 at ~{KBPS} kbit/s in {FRAGMENT_S} s fragments "
        f"({body_mb:.1f} MB, {count} fragments), median of {args.rounds} alternating rounds; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f} (a shared machine: read the ratios). Host: at the start, {speed}."
    ]
    publish("clip", intro, ["measure", "time", "note"], ["---", "---:", "---"], rows, write=not args.no_write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
