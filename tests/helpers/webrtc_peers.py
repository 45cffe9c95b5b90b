"""aiortc peers for the WebRTC ingestion tests: a master that streams to the storage session, a viewer of it.

Both talk to kvsmock the way the SDKs do: a ``websockets`` connection to the
signaling endpoint, JoinStorageSession(AsViewer) with boto3, the answer as an
SDP_ANSWER without a recipient, candidates trickled as ICE_CANDIDATE messages.
"""

from __future__ import annotations

import asyncio
import base64
import fractions
import json
import time
from typing import Any

import numpy as np
import websockets
from botocore.exceptions import ClientError
from aiortc import (
    AudioStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

WIDTH, HEIGHT = 320, 240
#: How long a test waits for what should come within seconds.
DEADLINE_SECONDS = 30


class PatternTrack(VideoStreamTrack):
    """A moving gradient; notes when its first frame went out."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.first_sent: float | None = None

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        if self.first_sent is None:
            self.first_sent = time.time()
        image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        image[:, :, 0] = (np.arange(WIDTH) + self.count * 4) % 256
        image[:, :, 1] = (np.arange(HEIGHT)[:, None] + self.count * 2) % 256
        self.count += 1
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneTrack(AudioStreamTrack):
    """A 440 Hz tone, 20 ms frames at 48 kHz, paced in real time."""

    RATE, SAMPLES = 48000, 960

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.started: float | None = None

    async def recv(self) -> AudioFrame:
        if self.started is None:
            self.started = time.time()
        else:
            await asyncio.sleep(self.started + self.sent / self.RATE - time.time())
        t = (np.arange(self.SAMPLES) + self.sent) / self.RATE
        tone = (np.sin(2 * np.pi * 440 * t) * 6000).astype(np.int16)
        frame = AudioFrame.from_ndarray(tone[None, :], format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = self.RATE, self.sent, fractions.Fraction(1, self.RATE)
        self.sent += self.SAMPLES
        return frame


# ------------------------------------------------------------------ the wire format
def encode(obj: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(obj).encode()).decode()


def decode(payload: str) -> dict[str, Any]:
    return json.loads(base64.b64decode(payload))


def when_allowed(call: Any, **params: Any) -> Any:
    """``call(**params)``, waiting while the channel's rate limit (JoinStorageSession: 2 a second) refuses it."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return call(**params)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ClientLimitExceededException" or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def message(action: str, payload: dict[str, Any], correlation: str) -> str:
    """A client message without a recipient: from the master or a joined viewer, it goes to the storage session."""
    return json.dumps({"action": action, "messagePayload": encode(payload), "correlationId": correlation})


def split_candidates(sdp: str) -> tuple[str, list[dict[str, Any]]]:
    """The SDP without its candidates, and the first section's candidates as the JS SDK trickles them."""
    kept, candidates, section, mid = [], [], -1, None
    for line in sdp.split("\r\n"):
        if line.startswith("m="):
            section += 1
        if section == 0 and line.startswith("a=mid:"):
            mid = line[len("a=mid:"):]
        if line.startswith("a=candidate:"):
            if section == 0:
                candidates.append(line[2:])
            continue
        if line.startswith("a=end-of-candidates"):
            continue
        kept.append(line)
    return "\r\n".join(kept), [{"candidate": c, "sdpMid": mid, "sdpMLineIndex": 0} for c in candidates]


async def answer_offer(pc: RTCPeerConnection, ws: Any, event: dict[str, Any]) -> None:
    """Answer the storage session's SDP_OFFER event: the answer, then the candidates one by one."""
    assert event["messageType"] == "SDP_OFFER" and "senderClientId" not in event, event
    await pc.setRemoteDescription(RTCSessionDescription(**decode(event["messagePayload"])))
    h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType == "video/H264"]
    for transceiver in pc.getTransceivers():
        if transceiver.kind == "video":
            transceiver.setCodecPreferences(h264)
    await pc.setLocalDescription(await pc.createAnswer())
    sdp, candidates = split_candidates(pc.localDescription.sdp)
    await ws.send(message("SDP_ANSWER", {"type": "answer", "sdp": sdp}, "answer"))
    for i, candidate in enumerate(candidates):
        await ws.send(message("ICE_CANDIDATE", candidate, f"candidate-{i}"))


# ------------------------------------------------------------------------- peers
class Master:
    """An aiortc master: joins the storage session, streams video and audio until ``stop`` is set."""

    def __init__(self, url: str, tls: Any, storage_client: Any, channel_arn: str, close_peer: bool = True):
        """``close_peer=False``: when stopped, leave signaling but keep the peer connection (the test closes it)."""
        self.url, self.tls, self.storage, self.arn = url, tls, storage_client, channel_arn
        self.close_peer = close_peer
        self.video, self.audio = PatternTrack(), ToneTrack()
        self.answered = asyncio.Event()
        self.stop = asyncio.Event()
        #: What reached the master after its answer (nothing should: a refusal would).
        self.events: list[dict[str, Any]] = []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(self.audio)
        self.pc.addTrack(self.video)

    async def run(self) -> None:
        try:
            async with websockets.connect(self.url, ssl=self.tls) as ws:
                await asyncio.to_thread(when_allowed, self.storage.join_storage_session, channelArn=self.arn)
                offer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert "a=recvonly" in decode(offer["messagePayload"])["sdp"]
                await answer_offer(self.pc, ws, offer)
                self.answered.set()

                async def read() -> None:
                    async for raw in ws:
                        self.events.append(json.loads(raw))

                reading = asyncio.create_task(read())
                await self.stop.wait()
                reading.cancel()
        finally:
            if self.close_peer:
                await self.pc.close()


class Viewer:
    """An aiortc viewer: joins the storage session as ``client_id`` and reads what the storage peer sends.

    ``got`` is set once ``wanted`` frames of each kind have come; it runs until ``stop`` is set.
    """

    def __init__(self, url: str, tls: Any, storage_client: Any, channel_arn: str, client_id: str, wanted: int):
        self.url, self.tls, self.storage, self.arn, self.client_id = url, tls, storage_client, channel_arn, client_id
        self.wanted = wanted
        self.frames: dict[str, list[Any]] = {"video": [], "audio": []}
        self.answered = asyncio.Event()
        self.got = asyncio.Event()
        self.stop = asyncio.Event()
        self.events: list[dict[str, Any]] = []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @self.pc.on("track")
        def on_track(track) -> None:
            asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames[track.kind].append(frame)
                if all(len(f) >= self.wanted for f in self.frames.values()):
                    self.got.set()
        except MediaStreamError:
            return

    async def run(self) -> None:
        try:
            async with websockets.connect(self.url, ssl=self.tls) as ws:
                await asyncio.to_thread(
                    when_allowed, self.storage.join_storage_session_as_viewer, channelArn=self.arn,
                    clientId=self.client_id,
                )
                offer = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert "a=sendonly" in decode(offer["messagePayload"])["sdp"]
                await answer_offer(self.pc, ws, offer)
                self.answered.set()

                async def read() -> None:
                    async for raw in ws:
                        self.events.append(json.loads(raw))

                reading = asyncio.create_task(read())
                await self.stop.wait()
                reading.cancel()
        finally:
            await self.pc.close()


# ------------------------------------------------------------------------ the stream
def storage_channel(sig: Any, name: str) -> tuple[str, str]:
    """A channel mapped (media storage ENABLED) to a new stream; returns the channel ARN and the stream name."""
    c = sig.kinesisvideo
    arn = sig.channel(name)
    stream = c.create_stream(StreamName=f"{name}-stream", DataRetentionInHours=24)["StreamARN"]
    c.update_media_storage_configuration(ChannelARN=arn, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"})
    return arn, f"{name}-stream"


def list_fragments(sig: Any, stream: str) -> list[dict[str, Any]]:
    fragments = sig.kv.archived_media(stream).list_fragments(StreamName=stream)["Fragments"]
    return sorted(fragments, key=lambda f: f["FragmentNumber"])


async def wait_for_fragments(sig: Any, stream: str, count: int) -> tuple[list[dict[str, Any]], float]:
    """Poll ListFragments until the stream holds ``count`` fragments; returns them and when they were listed."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        fragments = await asyncio.to_thread(list_fragments, sig, stream)
        if len(fragments) >= count:
            return fragments, time.time()
        assert time.monotonic() < deadline, f"only {len(fragments)} fragments after {DEADLINE_SECONDS} s"
        await asyncio.sleep(0.1)
