"""JoinStorageSessionAsViewer: a viewer of the storage session gets the master's media from kvsmock.

An aiortc master streams into the storage session; an aiortc viewer joins
it, answers the storage peer's offer, and decodes the video (H.264, the
master's access units relayed without re-encoding) and the audio (Opus)
that kvsmock sends it: in both modes. In-process, a viewer that joined
before the master keeps getting media when the master joins again.
"""

from __future__ import annotations

import asyncio

import aioice.ice
import pytest
from helpers.webrtc_peers import DEADLINE_SECONDS, HEIGHT, WIDTH, Master, Viewer, storage_channel, wait_for_fragments

FRAMES_WANTED = 10


@pytest.fixture(autouse=True)
def loopback_candidates(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def check_frames(viewer: Viewer, first: int = 0) -> None:
    pictures, sounds = viewer.frames["video"][first:], viewer.frames["audio"]
    assert len(pictures) >= FRAMES_WANTED and all((p.width, p.height) == (WIDTH, HEIGHT) for p in pictures)
    assert pictures[-1].pts > pictures[0].pts
    assert len(sounds) >= FRAMES_WANTED and sounds[0].sample_rate == 48000


def test_a_viewer_of_the_storage_session_gets_the_masters_media(sig):
    arn, stream = storage_channel(sig, "watched")
    tls, storage_client = sig.kv.ssl_context(), sig.kv.webrtc_storage(arn)
    master_url, viewer_url = sig.url(arn), sig.url(arn, "viewer-1")

    async def scenario():
        master = Master(master_url, tls, storage_client, arn)
        running = asyncio.create_task(master.run())
        viewer = Viewer(viewer_url, tls, storage_client, arn, "viewer-1", FRAMES_WANTED)
        try:
            await asyncio.wait_for(master.answered.wait(), 15)
            await wait_for_fragments(sig, stream, 1)
            watching = asyncio.create_task(viewer.run())
            await asyncio.wait_for(viewer.got.wait(), DEADLINE_SECONDS)
            viewer.stop.set()
            await asyncio.wait_for(watching, 10)
        finally:
            master.stop.set()
            await asyncio.wait_for(running, 10)
        return master, viewer

    master, viewer = asyncio.run(scenario())
    assert master.events == [] and viewer.events == []
    check_frames(viewer)


def test_a_viewer_keeps_watching_across_the_masters_joins(sig_local):
    arn, _ = storage_channel(sig_local, "rejoined")
    storage_client = sig_local.kv.webrtc_storage(arn)
    master_url, viewer_url = sig_local.url(arn), sig_local.url(arn, "viewer-1")

    async def frames_grow(viewer: Viewer, by: int) -> None:
        target = len(viewer.frames["video"]) + by
        while len(viewer.frames["video"]) < target:
            await asyncio.sleep(0.05)

    async def scenario():
        viewer = Viewer(viewer_url, None, storage_client, arn, "viewer-1", FRAMES_WANTED)
        watching = asyncio.create_task(viewer.run())
        masters = []
        try:
            await asyncio.wait_for(viewer.answered.wait(), 15)  # before any master: no media yet
            for _ in range(2):  # the second master connection replaces the first and joins again
                master = Master(master_url, None, storage_client, arn)
                masters.append((master, asyncio.create_task(master.run())))
                await asyncio.wait_for(master.answered.wait(), 15)
                before = len(viewer.frames["video"])
                await asyncio.wait_for(frames_grow(viewer, FRAMES_WANTED), DEADLINE_SECONDS)
                assert len(viewer.frames["video"]) > before
        finally:
            viewer.stop.set()
            for master, running in masters:
                master.stop.set()
            await asyncio.gather(watching, *(r for _, r in masters), return_exceptions=True)
        return viewer

    viewer = asyncio.run(scenario())
    check_frames(viewer)
    pts = [p.pts for p in viewer.frames["video"]]
    assert pts == sorted(pts)  # one timeline across the two masters
