"""WebRTC ingestion benchmark: one 720p stream from an aiortc master into ``kvsmock server`` for 60 s.

The master does what tests/helpers/webrtc_peers.py's ``Master`` does, at
camera size: it connects to the server's signaling WebSocket, calls JoinStorageSession
(boto3), answers the storage peer's offer and trickles its candidates (ICE
on 127.0.0.1), then sends

* video: a synthetic 1280x720 picture (a textured scene scrolling 3 px per
  frame under a little fresh noise, so that it costs bits the way a camera
  does) at ``--fps`` (25) in real time (a frame the sender comes too late
  for is skipped, as a camera's would be), encoded by aiortc's own H.264
  encoder (libx264, Baseline, ``tune=zerolatency``) held at ``--bitrate``
  (3 Mbit/s: the storage peer's REMB estimates are ignored; aiortc clamps to
  3 Mbit/s and assumes 30 fps, so what goes out is measured and shown).
  aiortc's x264 makes IDRs of its own rarely (keyint 250, scene cuts):
  fragments are cut where the storage peer asks for a keyframe (RTCP PLI,
  once a fragment has lasted 2 s), as with a browser master;
* audio: a 440 Hz tone, 20 ms frames at 48 kHz, encoded as Opus by aiortc
  (the storage peer makes it AAC).

to a ``kvsmock server --tls off`` subprocess (in memory), whose storage peer
stores the fragments in the channel's mapped stream. Measured over the
``--seconds`` (default 60) after the first video frame was encoded:

* the server's CPU per second of stream (``/proc/PID/stat`` utime+stime
  deltas over the window, all its threads), next to its CPU in a
  ``--baseline-s`` window before the master connects, when the only load is
  the same ListFragments polling (so the difference is the stream's); its
  RSS before the stream, at the end and its peak (VmHWM);
* the master's (client) CPU, separately: this process's CPU minus the
  ListFragments poller thread's (``/proc/self/task/TID/stat``), split into
  its event loop thread (frames made, RTP, SRTP, RTCP) and the other threads
  (aiortc's encoder executor: libx264, which has threads of its own, and Opus);
* fragments stored (ListFragments), frames stored (GetMediaForFragmentList
  over every fragment, parsed) against frames sent, audio stored against
  sent (seconds: Opus comes in 20 ms frames, AAC goes out in 1024-sample
  ones), bytes stored per second of stream against the video bytes sent;
* the delay to a fragment being listed: a thread polls ListFragments
  (``SERVER_TIMESTAMP`` range from the newest server timestamp seen) every
  ``--poll-ms`` (100 ms; a poll starts that long after the one before
  started, or at once if the call took longer) and notes when the response
  naming a fragment came back. Delays, p50 / p99 / max over the fragments
  (the last one, cut by the master leaving, left out):
  (a) from the send time of the fragment's first frame (its keyframe; the
  master notes when the encoder handed each frame to aiortc's RTP sender) to
  its listing: a fragment can only be listed once it is complete, so this
  holds its duration; (b) from the fragment's producer timestamp (its first
  frame's time as the storage peer dates it: the arrival time of the
  stream's first frame plus RTP time) to its listing; (c) from the send time
  of the keyframe that ends it (the next fragment's first frame) to its
  listing: what ingestion adds once the fragment could be closed (waiting
  for audio to cover it, AAC, storing; the storage peer dates each track
  from its own first frame's arrival, so how long the stream's first video
  frame took to encode shifts this too). Fragments are matched to the
  master's keyframes by RTP time (producer timestamps differ exactly as the
  frames' RTP timestamps do).

The server and this process share the machine's CPUs (the load average is
shown): the client's encoder competes with the server.

    python benchmarks/webrtc_ingestion.py [--quick] [--seconds 60] [--fps 25] [--bitrate 3000000]
                                          [--poll-ms 100] [--baseline-s 5] [--no-write]

``--quick`` is a smoke run (10 s, 3 s baseline) that does not write
results/webrtc_ingestion.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import fractions
import json
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

import aioice.ice
import aiortc.codecs
import numpy as np
import websockets
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription
from aiortc.codecs.h264 import H264Encoder
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, VideoFrame

from conftest_plugin import KvsServer
from kvsmock import read_fragments
from proc_stats import cpu_seconds
from report import publish

# The wire helpers the ingestion tests use (tests/helpers), rather than a copy of them here.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from helpers.webrtc_peers import message, split_candidates  # noqa: E402

WIDTH, HEIGHT = 1280, 720
VIDEO_CLOCK = 90000
MB = 1024 * 1024
NAL_IDR = 5
#: After the master leaves: the fragments have settled once none came for this long (seconds).
SETTLE_S = 3.0


# ------------------------------------------------------------------ the master's media
class Camera(MediaStreamTrack):
    """1280x720 frames (yuv420p) at ``fps`` in real time: a periodic textured scene scrolling under fresh noise."""

    kind = "video"

    def __init__(self, fps: int) -> None:
        super().__init__()
        self.fps = fps
        rng = np.random.default_rng(7)
        yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
        base = 128 + 60 * np.sin(xx * 2 * np.pi / 128) * np.cos(yy / 23) + rng.integers(-60, 61, (HEIGHT, WIDTH))
        base = base.clip(0, 255).astype(np.uint8)
        self.scene = np.concatenate([base, base], axis=1)  # scrolling wraps without a seam
        self.noise = [rng.integers(0, 11, (HEIGHT, WIDTH), dtype=np.uint8) for _ in range(16)]
        cy, cx = np.mgrid[0 : HEIGHT // 2, 0 : WIDTH // 2]
        self.u = (128 + 40 * np.sin(cx / 50)).astype(np.uint8)
        self.v = (128 + 40 * np.cos(cy / 30)).astype(np.uint8)
        self.count = 0
        self.start: float | None = None
        #: Frames skipped: a camera's frames come in real time, those the sender was too late to take are lost.
        self.skipped = 0

    async def recv(self) -> VideoFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.time()
        wait = self.start + self.count / self.fps - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
        elif -wait >= 1 / self.fps:  # take the newest frame, as from a camera
            behind = int(-wait * self.fps)
            self.count += behind
            self.skipped += behind
        offset = (self.count * 3) % WIDTH
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        luma = self.scene[:, offset : offset + WIDTH] + self.noise[self.count % 16]
        frame.planes[0].update(np.ascontiguousarray(luma))
        frame.planes[1].update(self.u)
        frame.planes[2].update(self.v)
        frame.pts, frame.time_base = self.count * VIDEO_CLOCK // self.fps, fractions.Fraction(1, VIDEO_CLOCK)
        self.count += 1
        return frame


class Tone(MediaStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz, paced in real time."""

    kind = "audio"
    RATE, SAMPLES = 48000, 960

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.start: float | None = None

    async def recv(self) -> AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self.start is None:
            self.start = time.time()
        else:
            await asyncio.sleep(self.start + self.sent / self.RATE - time.time())
        t = (np.arange(self.SAMPLES) + self.sent) / self.RATE
        tone = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16)
        frame = AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = self.RATE, self.sent, fractions.Fraction(1, self.RATE)
        self.sent += self.SAMPLES
        return frame


@dataclass
class Sent:
    """One video frame the encoder handed to the RTP sender."""

    rtp: int  #: RTP time (90 kHz, before the sender's random offset)
    at: float  #: epoch seconds when it was encoded (sent right after)
    idr: bool
    size: int


class RecordingH264Encoder(H264Encoder):
    """aiortc's H.264 encoder at a fixed bitrate, noting every frame it makes (installed for this process)."""

    bitrate = 3_000_000
    sent: list[Sent] = []
    first = threading.Event()

    @property
    def target_bitrate(self) -> int:
        return type(self).bitrate

    @target_bitrate.setter
    def target_bitrate(self, value: int) -> None:
        pass  # the storage peer's REMB is ignored: the benchmark's bitrate holds

    def _encode_frame(self, frame, force_keyframe):
        rtp = frame.pts * VIDEO_CLOCK * frame.time_base.numerator // frame.time_base.denominator  # encoding rescales it
        units = list(super()._encode_frame(frame, force_keyframe))
        if units:
            idr = any(unit[0] & 0x1F == NAL_IDR for unit in units)
            type(self).sent.append(Sent(rtp, time.time(), idr, sum(len(u) + 4 for u in units)))
            type(self).first.set()
        yield from units


# ------------------------------------------------------------------ signaling (the SDKs' wire format)
class Master:
    """Joins the storage session, answers its offer and streams until ``stop`` is set; then closes the peer."""

    def __init__(self, url: str, storage_client: Any, channel_arn: str, fps: int):
        self.url, self.storage, self.arn = url, storage_client, channel_arn
        self.video, self.audio = Camera(fps), Tone()
        self.answered = asyncio.Event()
        self.stop = asyncio.Event()
        self.events: list[dict[str, Any]] = []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)

    async def run(self) -> None:
        try:
            async with websockets.connect(self.url, max_size=None) as ws:
                await asyncio.to_thread(self.storage.join_storage_session, channelArn=self.arn)
                offer = json.loads(await asyncio.wait_for(ws.recv(), 15))
                payload = json.loads(base64.b64decode(offer["messagePayload"]))
                await self.pc.setRemoteDescription(RTCSessionDescription(**payload))
                h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
                for transceiver in self.pc.getTransceivers():
                    if transceiver.kind == "video":
                        transceiver.setCodecPreferences(h264)
                await self.pc.setLocalDescription(await self.pc.createAnswer())
                sdp, candidates = split_candidates(self.pc.localDescription.sdp)
                await ws.send(message("SDP_ANSWER", {"type": "answer", "sdp": sdp}, "answer"))
                for i, candidate in enumerate(candidates):
                    await ws.send(message("ICE_CANDIDATE", candidate, f"candidate-{i}"))
                self.answered.set()

                async def read() -> None:
                    async for raw in ws:
                        self.events.append(json.loads(raw))

                reading = asyncio.create_task(read())
                await self.stop.wait()
                await self.pc.close()  # the media stops; then the master leaves signaling
                reading.cancel()
        finally:
            await self.pc.close()


# ------------------------------------------------------------------ measuring
def proc_status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def own_cpu() -> float:
    t = os.times()
    return t.user + t.system


class Poller(threading.Thread):
    """Polls ListFragments every ``interval`` s; notes when each fragment was first listed (response time)."""

    def __init__(self, server: KvsServer, stream: str, interval: float):
        super().__init__(name="list-fragments", daemon=True)
        self.client = server.archived_media(stream)
        self.stream, self.interval = stream, interval
        #: fragment number -> (epoch s when the response naming it came back, the fragment as listed)
        self.seen: dict[str, tuple[float, dict[str, Any]]] = {}
        self.calls: list[float] = []
        self.errors: list[str] = []
        self.tid: int | None = None
        self.ready = threading.Event()
        self.halt = threading.Event()

    def cpu(self) -> float:
        return cpu_seconds(f"/proc/self/task/{self.tid}/stat")

    def _list(self, since: datetime.datetime) -> list[dict[str, Any]]:
        selector = {
            "FragmentSelectorType": "SERVER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": since, "EndTimestamp": since + datetime.timedelta(days=1)},
        }
        out, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {"FragmentSelector": selector}
            # MaxResults 100 (plenty for what arrived since the last poll): each call costs MaxResults of the
            # stream's 10,000 fragment-metadata points a second, and this polls 10 times a second.
            answer = self.client.list_fragments(StreamName=self.stream, MaxResults=100, **kwargs)
            out += answer["Fragments"]
            token = answer.get("NextToken")
            if not token:
                return out

    def run(self) -> None:
        self.tid = threading.get_native_id()
        self.ready.set()
        since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
        next_at = time.monotonic()
        while not self.halt.is_set():
            started = time.time()
            try:
                fragments = self._list(since)
            except Exception as exc:  # noqa: BLE001 - counted and shown
                self.errors.append(repr(exc))
                fragments = []
            done = time.time()
            self.calls.append(done - started)
            for fragment in fragments:
                self.seen.setdefault(fragment["FragmentNumber"], (done, fragment))
                since = max(since, fragment["ServerTimestamp"])
            next_at += self.interval
            now = time.monotonic()
            if next_at < now:
                next_at = now
            self.halt.wait(next_at - now)

    def last_listed(self) -> float:
        return max((at for at, _ in self.seen.values()), default=0.0)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def spread(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    if not values:
        return "n/a"
    return (f"{percentile(values, 50) * scale:.0f} / {percentile(values, 99) * scale:.0f} / "
            f"{max(values) * scale:.0f} {unit}")


def match_fragments(fragments: list[dict[str, Any]], sent: list[Sent]) -> list[int | None]:
    """For each fragment (in producer-time order), the index in ``sent`` of its first frame (None if unmatched).

    Producer timestamps differ exactly as the frames' RTP times do (to the
    ms), so the offset is the one that lines the most fragments up with keyframes.
    """
    keys = [i for i, s in enumerate(sent) if s.idr]
    starts = [round(f["ProducerTimestamp"].timestamp() * 1000) for f in fragments]
    if not keys or not starts:
        return [None] * len(fragments)
    best: tuple[int, list[int | None]] = (-1, [])
    for k in keys[:20]:
        offset = starts[0] - sent[k].rtp * 1000 / VIDEO_CLOCK
        matched: list[int | None] = []
        for start in starts:
            hit = [i for i in keys if abs(start - offset - sent[i].rtp * 1000 / VIDEO_CLOCK) <= 2]
            matched.append(hit[0] if hit else None)
        count = sum(m is not None for m in matched)
        if count > best[0]:
            best = (count, matched)
    return best[1]


# ------------------------------------------------------------------ the run
def storage_channel(server: KvsServer, name: str) -> tuple[str, str]:
    kv = server.kinesisvideo
    arn = kv.create_signaling_channel(ChannelName=name)["ChannelARN"]
    stream_arn = kv.create_stream(StreamName=f"{name}-stream", DataRetentionInHours=24)["StreamARN"]
    kv.update_media_storage_configuration(
        ChannelARN=arn, MediaStorageConfiguration={"StreamARN": stream_arn, "Status": "ENABLED"}
    )
    return arn, f"{name}-stream"


@dataclass
class Stored:
    """What GetMediaForFragmentList returns for the listed fragments, parsed."""

    video: int = 0  #: video frames
    audio: int = 0  #: audio frames
    video_bytes: int = 0
    audio_bytes: int = 0
    audio_s: float = 0.0
    payload: int = 0  #: bytes of the responses


def stored_frames(server: KvsServer, stream: str, numbers: list[str]) -> Stored:
    client = server.archived_media(stream, "GET_MEDIA_FOR_FRAGMENT_LIST")
    out = Stored()
    for first in range(0, len(numbers), 1000):
        payload = client.get_media_for_fragment_list(StreamName=stream, Fragments=numbers[first : first + 1000])
        data = payload["Payload"].read()
        out.payload += len(data)
        for fragment in read_fragments(data):
            tracks = {t.number: t for t in fragment.tracks}
            for frame in fragment.frames:
                track = tracks[frame.track_number]
                if track.codec_id.startswith("V_"):
                    out.video += 1
                    out.video_bytes += len(frame.data)
                else:
                    out.audio += 1
                    out.audio_bytes += len(frame.data)
                    out.audio_s += 1024 / (track.sampling_rate or 48000)  # AAC: 1024 samples a frame
    return out


async def stream_phase(args, server: KvsServer, arn: str, poller: Poller) -> dict[str, Any]:
    master = Master(server.signaling_ws_url(arn), server.webrtc_storage(arn), arn, args.fps)
    running = asyncio.create_task(master.run())
    await asyncio.wait_for(master.answered.wait(), 30)
    if not await asyncio.to_thread(RecordingH264Encoder.first.wait, 30):
        raise SystemExit("no video frame was encoded within 30 s of the answer")
    pid = server.process.pid
    t0 = time.time()
    start = {"server": cpu_seconds(f"/proc/{pid}/stat"), "own": own_cpu(), "poller": poller.cpu(),
             "loop": cpu_seconds(f"/proc/self/task/{os.getpid()}/stat"), "load": os.getloadavg()[0]}
    await asyncio.sleep(max(0.0, t0 + args.seconds - time.time()))
    t1 = time.time()
    end = {"server": cpu_seconds(f"/proc/{pid}/stat"), "own": own_cpu(), "poller": poller.cpu(),
           "loop": cpu_seconds(f"/proc/self/task/{os.getpid()}/stat"), "load": os.getloadavg()[0],
           "rss_kb": proc_status_kb(pid, "VmRSS")}
    master.stop.set()
    await asyncio.wait_for(running, 30)
    stopped = time.time()
    return {"t0": t0, "t1": t1, "stopped": stopped, "start": start, "end": end, "master": master}


def run(args) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # ICE on loopback only
    RecordingH264Encoder.bitrate = args.bitrate
    aiortc.codecs.H264Encoder = RecordingH264Encoder  # what aiortc's get_encoder makes for H.264

    server = KvsServer(extra_args=["--tls", "off"])
    try:
        arn, stream = storage_channel(server, "bench-webrtc")
        pid = server.process.pid
        poller = Poller(server, stream, args.poll_ms / 1000)
        poller.start()
        if not poller.ready.wait(10):
            raise SystemExit("the ListFragments poller did not start")

        # Baseline: the server with the same ListFragments polling and no stream.
        b0, bt0 = cpu_seconds(f"/proc/{pid}/stat"), time.time()
        time.sleep(args.baseline_s)
        baseline = (cpu_seconds(f"/proc/{pid}/stat") - b0) / (time.time() - bt0)
        rss_before = proc_status_kb(pid, "VmRSS")

        phase = asyncio.run(stream_phase(args, server, arn, poller))

        # The master left: the last fragments are listed once none new came for SETTLE_S.
        deadline = time.time() + 60
        while time.time() < deadline and time.time() - max(poller.last_listed(), phase["stopped"]) < SETTLE_S:
            time.sleep(0.2)
        poller.halt.set()
        poller.join(10)
        hwm_kb = proc_status_kb(pid, "VmHWM")
        rss_end_kb = phase["end"]["rss_kb"]
        log = server.read_log()
        listed = sorted(poller.seen.values(), key=lambda item: item[1]["ProducerTimestamp"])
        fragments = [f for _, f in listed]
        numbers = [f["FragmentNumber"] for f in fragments]
        stored = stored_frames(server, stream, numbers)
    finally:
        server.stop()

    master: Master = phase["master"]
    sent = RecordingH264Encoder.sent
    window = phase["t1"] - phase["t0"]
    start, end = phase["start"], phase["end"]
    server_cpu = (end["server"] - start["server"]) / window
    own = (end["own"] - start["own"]) / window
    poll_cpu = (end["poller"] - start["poller"]) / window
    loop_cpu = (end["loop"] - start["loop"]) / window
    client_cpu = own - poll_cpu
    workers_cpu = client_cpu - loop_cpu

    # The video sent, over the stream's RTP time (first frame to last, plus one frame).
    sent_span = (sent[-1].rtp - sent[0].rtp) / VIDEO_CLOCK + 1 / args.fps
    sent_bps = sum(s.size for s in sent) * 8 / sent_span
    fps_out = len(sent) / sent_span
    stored_bytes = sum(f["FragmentSizeInBytes"] for f in fragments)
    stored_span_s = sum(f["FragmentLengthInMilliseconds"] for f in fragments) / 1000
    lengths = [f["FragmentLengthInMilliseconds"] / 1000 for f in fragments[:-1]]
    keyframes = sum(s.idr for s in sent)
    audio_sent_s = master.audio.sent / Tone.RATE

    matched = match_fragments(fragments, sent)
    delay_first, delay_producer, delay_close = [], [], []
    unmatched = 0
    for i, (fragment, index) in enumerate(zip(fragments[:-1], matched[:-1])):  # the last one: cut by leaving
        listed_at = listed[i][0]
        delay_producer.append(listed_at - fragment["ProducerTimestamp"].timestamp())
        nxt = matched[i + 1]
        if index is None or nxt is None:
            unmatched += 1
            continue
        delay_first.append(listed_at - sent[index].at)
        delay_close.append(listed_at - sent[nxt].at)
    calls = poller.calls
    # How long after its capture time (camera start + RTP time) each frame left the encoder.
    lag = [(s.at - master.video.start - s.rtp / VIDEO_CLOCK, s.idr) for s in sent] if master.video.start else []
    lag_key = [x for x, idr in lag if idr]
    lag_other = [x for x, idr in lag if not idr]
    tracebacks = log.count("Traceback")

    rows = [
        ("stream", f"{window:.1f} s", f"1280x720 H.264 at {fps_out:.1f} fps out of {args.fps} "
         f"({master.video.skipped} camera frames skipped in all: the sender was busy), "
         f"{sent_bps / 1e6:.2f} Mbit/s sent (encoder target {args.bitrate / 1e6:g} Mbit/s; both over "
         f"the {sent_span:.1f} s from first frame to last), "
         f"{keyframes} keyframes in all; Opus 48 kHz 20 ms"),
        ("server CPU per second of stream", f"{server_cpu:.3f} s/s", f"{server_cpu * 100:.1f} % of one core, "
         f"ListFragments polling included; {baseline * 100:.1f} % with that polling alone (baseline "
         f"{args.baseline_s:g} s before the master joined): the stream's own share "
         f"{(server_cpu - baseline) * 100:.1f} %"),
        ("server RSS", f"{rss_end_kb / 1024:.0f} MB",
         f"at the end of the stream; {rss_before / 1024:.0f} MB before it, "
         f"peak (VmHWM) {hwm_kb / 1024:.0f} MB; {stored_bytes / MB:.1f} MB stored in memory"),
        ("client (master) CPU per second of stream", f"{client_cpu:.3f} s/s",
         f"{client_cpu * 100:.1f} % of one core (this process minus the ListFragments thread, "
         f"{poll_cpu * 100:.1f} %): its event loop thread (frames made, RTP, SRTP, RTCP, signaling) "
         f"{loop_cpu * 100:.1f} %, other threads (aiortc's encoder executor: libx264 with its threads, Opus) "
         f"{workers_cpu * 100:.1f} %"),
        ("master: capture -> sent, other frames / keyframes, p50 / p99 / max",
         f"{spread(lag_other)}; {spread(lag_key)}",
         "from a frame's capture time (the camera's start + its RTP time) to the encoder handing it to the RTP "
         f"sender; the stream's first frame (a keyframe) {lag[0][0] * 1000:.0f} ms" if lag else ""),
        ("fragments stored", f"{len(fragments)}", f"duration p50 {percentile(lengths, 50):.2f} s, "
         f"min {min(lengths, default=0):.2f}, max {max(lengths, default=0):.2f} s (the last, cut when the "
         f"master left, not counted); {stored_span_s:.1f} s of media listed" if lengths else "n/a"),
        ("video frames stored / sent", f"{stored.video} / {len(sent)}",
         f"{len(sent) - stored.video} not stored (GetMediaForFragmentList over all {len(fragments)} "
         f"fragments, parsed; sent: every frame the encoder made, from connect to leaving)"),
        ("audio stored / sent", f"{stored.audio_s:.1f} / {audio_sent_s:.1f} s",
         f"{stored.audio} AAC frames stored, {master.audio.sent // Tone.SAMPLES} Opus frames sent"),
        ("bytes stored per second of stream",
         f"{stored_bytes / stored_span_s / 1024:.0f} KiB/s" if stored_span_s else "n/a",
         f"{stored_bytes * 8 / stored_span_s / 1e6:.2f} Mbit/s (FragmentSizeInBytes over FragmentLength): "
         f"H.264 {stored.video_bytes * 8 / stored_span_s / 1e6:.2f} Mbit/s (the master's encoder made "
         f"{sum(s.size for s in sent) * 8 / stored_span_s / 1e6:.2f} over the same span), AAC "
         f"{stored.audio_bytes * 8 / stored_span_s / 1e3:.0f} kbit/s, the rest MKV and KVS tags; "
         f"GetMediaForFragmentList returned {stored.payload / MB:.1f} MB"
         if stored_span_s else ""),
        ("(a) first frame sent -> fragment listed, p50 / p99 / max", spread(delay_first),
         f"{len(delay_first)} fragments; holds the fragment's own duration"),
        ("(b) producer timestamp -> fragment listed, p50 / p99 / max", spread(delay_producer),
         f"{len(delay_producer)} fragments; the producer timestamp is the fragment's start as the storage peer dates "
         "it: the arrival of the stream's first frame plus RTP time, so a keyframe encoded more slowly than the "
         "first frame was is dated before it was sent"),
        ("(c) closing keyframe sent -> fragment listed, p50 / p99 / max", spread(delay_close),
         f"{len(delay_close)} fragments; what ingestion adds once the fragment can be closed"),
        ("ListFragments poll", f"every {args.poll_ms} ms",
         f"{len(calls)} calls, each {percentile(calls, 50) * 1000:.0f} ms p50 / "
         f"{percentile(calls, 99) * 1000:.0f} ms p99"
         f"{', ' + str(len(poller.errors)) + ' errors' if poller.errors else ''}: a listing is noted up to one "
         f"interval plus one call late" if calls else "no calls"),
        ("checks", "ok" if not (unmatched or tracebacks or master.events or poller.errors) else "SEE NOTE",
         f"{unmatched} fragments not matched to a keyframe, {tracebacks} tracebacks in the server's log, "
         f"{len(master.events)} messages to the master after its answer"),
    ]
    intro = [
        "WebRTC ingestion benchmark (`benchmarks/webrtc_ingestion.py`): one aiortc master sends 1280x720 H.264 "
        f"(aiortc's libx264 encoder, {args.bitrate / 1e6:g} Mbit/s target, {args.fps} fps) and Opus to a "
        "`kvsmock server --tls off` (in memory) through JoinStorageSession; the storage peer stores the "
        f"fragments in the mapped stream. Measured over {window:.0f} s from the first encoded frame; "
        f"{os.cpu_count()} CPUs shared by server and client, load average {start['load']:.1f} at the start and "
        f"{end['load']:.1f} at the end (a shared machine). CPU: `/proc` utime+stime; MB = 2^20 bytes.",
        "",
        "Delays are from this process's clock to a ListFragments response; server and client are on one host, "
        f"one clock. ListFragments is polled every {args.poll_ms} ms, so a listing is seen up to that much "
        "(plus one call) after it could have been. p99 is nearest-rank: over fewer than 100 fragments it is "
        "the largest.",
    ]
    return rows, intro, []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60, help="length of the measured stream (default 60)")
    parser.add_argument("--fps", type=int, default=25, help="video frame rate (default 25)")
    parser.add_argument("--bitrate", type=int, default=3_000_000, help="H.264 encoder target, bit/s (default 3000000)")
    parser.add_argument("--poll-ms", type=int, default=100, help="ListFragments poll interval (default 100)")
    parser.add_argument("--baseline-s", type=float, default=5, help="server CPU with polling alone, first (default 5)")
    parser.add_argument("--quick", action="store_true", help="10 s, 3 s baseline; does not write the results file")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.baseline_s = 10, 3
    rows, intro, footer = run(args)
    publish("webrtc_ingestion", intro, ["measure", "value", "note"], ["---", "---:", "---"], rows,
            footer=footer, write=not (args.quick or args.no_write))
    return 0


if __name__ == "__main__":
    sys.exit(main())
