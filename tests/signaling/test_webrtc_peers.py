"""Real WebRTC peers (aiortc) find each other through kvsmock's signaling and connect.

A master and two viewers get their endpoints with boto3
(GetSignalingChannelEndpoint, GetIceServerConfig), connect with a
``websockets`` client using the service's message format, exchange offer,
answer and trickled ICE candidates (sent as ICE_CANDIDATE messages, not
inside the SDP), and connect: each viewer gets a data-channel message and
decoded video frames from the master. All traffic stays on loopback: host
candidates are limited to 127.0.0.1, and the TURN URIs GetIceServerConfig
gives point at kvsmock's TURN server on loopback (relayed candidates are
gathered too; test_turn_relay.py connects peers through them alone).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any

import aioice.ice
import numpy as np
import pytest
import websockets
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.sdp import candidate_from_sdp
from av import VideoFrame

from helpers.webrtc_peers import decode, encode, split_candidates

WIDTH, HEIGHT = 160, 120
FRAMES_WANTED = 5
VIEWERS = ("viewer-1", "viewer-2")


@pytest.fixture(autouse=True)
def loopback_candidates(monkeypatch):
    """ICE host candidates on 127.0.0.1 only: no traffic leaves loopback."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


class PatternTrack(VideoStreamTrack):
    """A moving gradient, WIDTH x HEIGHT."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        image = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
        image[:, :, 0] = (np.arange(WIDTH) + self.count * 4) % 256
        image[:, :, 1] = 128
        self.count += 1
        frame = VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts, frame.time_base = pts, time_base
        return frame


# ------------------------------------------------------------------ the wire format
def send_message(action: str, payload: dict[str, Any], recipient: str | None = None, correlation: str | None = None) -> str:
    out: dict[str, Any] = {"action": action, "messagePayload": encode(payload)}
    if recipient:
        out["recipientClientId"] = recipient
    if correlation:
        out["correlationId"] = correlation
    return json.dumps(out)


async def add_candidate(pc: RTCPeerConnection, payload: dict[str, Any]) -> None:
    candidate = candidate_from_sdp(payload["candidate"].split(":", 1)[1])
    candidate.sdpMid = payload["sdpMid"]
    candidate.sdpMLineIndex = payload["sdpMLineIndex"]
    await pc.addIceCandidate(candidate)


def rtc_configuration(ice_server_list: list[dict[str, Any]]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[RTCIceServer(urls=s["Uris"], username=s["Username"], credential=s["Password"]) for s in ice_server_list]
    )


# ------------------------------------------------------------------------- peers
async def run_master(url: str, config: RTCConfiguration, ready: asyncio.Event, errors: list, tls=None) -> None:
    pcs: dict[str, RTCPeerConnection] = {}
    try:
        async with websockets.connect(url, ssl=tls) as ws:
            ready.set()
            async for raw in ws:
                event = json.loads(raw)
                kind, sender = event["messageType"], event.get("senderClientId")
                if kind == "SDP_OFFER":
                    pc = pcs[sender] = RTCPeerConnection(config)

                    @pc.on("datachannel")
                    def on_datachannel(channel, sender=sender):
                        channel.send(f"hello {sender}")

                    await pc.setRemoteDescription(RTCSessionDescription(**decode(event["messagePayload"])))
                    pc.addTrack(PatternTrack())
                    await pc.setLocalDescription(await pc.createAnswer())
                    sdp, candidates = split_candidates(pc.localDescription.sdp)
                    await ws.send(send_message("SDP_ANSWER", {"type": "answer", "sdp": sdp}, sender, f"answer-{sender}"))
                    for i, candidate in enumerate(candidates):
                        await ws.send(send_message("ICE_CANDIDATE", candidate, sender, f"m-cand-{i}"))
                elif kind == "ICE_CANDIDATE":
                    await add_candidate(pcs[sender], decode(event["messagePayload"]))
                else:
                    errors.append(event)
    finally:
        for pc in pcs.values():
            await pc.close()


async def run_viewer(url: str, config: RTCConfiguration, client_id: str, tls=None) -> tuple[str, list[VideoFrame]]:
    loop = asyncio.get_running_loop()
    pc = RTCPeerConnection(config)
    pc.addTransceiver("video", direction="recvonly")
    channel = pc.createDataChannel("kvsDataChannel")
    got_message: asyncio.Future = loop.create_future()
    got_frames: asyncio.Future = loop.create_future()

    @channel.on("message")
    def on_message(text):
        if not got_message.done():
            got_message.set_result(text)

    async def read_frames(track) -> None:
        try:
            frames = [await track.recv() for _ in range(FRAMES_WANTED)]
            got_frames.set_result(frames)
        except Exception as exc:  # surfaced by the await below
            if not got_frames.done():
                got_frames.set_exception(exc)

    @pc.on("track")
    def on_track(track):
        if track.kind == "video":
            loop.create_task(read_frames(track))

    try:
        async with websockets.connect(url, ssl=tls) as ws:

            async def reader() -> None:
                async for raw in ws:
                    event = json.loads(raw)
                    assert "senderClientId" not in event  # from the master (kvsmock sends none)
                    if event["messageType"] == "SDP_ANSWER":
                        await pc.setRemoteDescription(RTCSessionDescription(**decode(event["messagePayload"])))
                    elif event["messageType"] == "ICE_CANDIDATE":
                        await add_candidate(pc, decode(event["messagePayload"]))
                    else:
                        raise AssertionError(f"viewer got {event}")

            reading = loop.create_task(reader())
            await pc.setLocalDescription(await pc.createOffer())
            sdp, candidates = split_candidates(pc.localDescription.sdp)
            await ws.send(send_message("SDP_OFFER", {"type": "offer", "sdp": sdp}, correlation=f"offer-{client_id}"))
            for i, candidate in enumerate(candidates):
                await ws.send(send_message("ICE_CANDIDATE", candidate, correlation=f"v-cand-{i}"))
            done, _ = await asyncio.wait({reading, got_message}, return_when=asyncio.FIRST_COMPLETED)
            if reading in done:
                reading.result()  # raises what went wrong
            text = await got_message
            frames = await got_frames
            reading.cancel()
            return text, frames
    finally:
        await pc.close()


def test_two_aiortc_viewers_connect_to_a_master_through_kvsmock(sig):
    started = time.monotonic()
    arn = sig.channel("webrtc")
    master_url = sig.url(arn)
    viewer_urls = {v: sig.url(arn, v) for v in VIEWERS}
    assert master_url.startswith("wss://127.0.0.1:" if sig.mode == "server" else "ws://127.0.0.1:")
    tls = sig.kv.ssl_context()  # the server's local CA (None in-process)
    ice = {who: sig.rest(arn).get_ice_server_config(ChannelARN=arn, ClientId=who)["IceServerList"]
           for who in ("master",) + VIEWERS}

    async def scenario():
        ready, errors = asyncio.Event(), []
        master = asyncio.create_task(run_master(master_url, rtc_configuration(ice["master"]), ready, errors, tls))
        await asyncio.wait_for(ready.wait(), 10)
        try:
            results = await asyncio.wait_for(
                asyncio.gather(*(run_viewer(viewer_urls[v], rtc_configuration(ice[v]), v, tls) for v in VIEWERS)), 30
            )
        finally:
            master.cancel()
            await asyncio.gather(master, return_exceptions=True)
        return results, errors

    results, errors = asyncio.run(scenario())
    assert errors == []  # no STATUS_RESPONSE or other event reached the master
    for viewer, (text, frames) in zip(VIEWERS, results):
        assert text == f"hello {viewer}"
        assert len(frames) == FRAMES_WANTED
        assert all((f.width, f.height) == (WIDTH, HEIGHT) for f in frames)
        assert frames[-1].pts > frames[0].pts
    assert time.monotonic() - started < 20


def test_signaling_counted_what_the_peers_sent(sig_local):
    """In-process, the service state shows the trickled candidates went through signaling."""
    from kvsmock.api.moto_glue import backend_for
    from kvsmock.service.signaling.hub import hub_for

    arn = sig_local.channel("counted")
    ice = sig_local.rest(arn).get_ice_server_config(ChannelARN=arn, ClientId="viewer-1")["IceServerList"]
    config = rtc_configuration(ice)

    async def scenario():
        ready, errors = asyncio.Event(), []
        master = asyncio.create_task(run_master(sig_local.url(arn), config, ready, errors))
        await asyncio.wait_for(ready.wait(), 10)
        try:
            return await asyncio.wait_for(run_viewer(sig_local.url(arn, "viewer-1"), config, "viewer-1"), 30)
        finally:
            master.cancel()
            await asyncio.gather(master, return_exceptions=True)

    text, frames = asyncio.run(scenario())
    assert text == "hello viewer-1" and frames
    counts = hub_for(backend_for("123456789012", "us-east-1")).state(arn).counts
    assert counts["SDP_OFFER"] == 1 and counts["SDP_ANSWER"] == 1
    assert counts["ICE_CANDIDATE"] >= 2  # at least one each way, outside the SDP
    assert counts["CONNECT"] == 2 and counts["GET_ICE_SERVER_CONFIG"] == 1
