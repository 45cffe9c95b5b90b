"""WebRTC ingestion: an aiortc master sends H.264 and Opus to kvsmock's storage peer, which stores them in the stream.

The master connects to kvsmock's signaling WebSocket, calls
JoinStorageSession (boto3, ``kinesis-video-webrtc-storage``), answers the
storage peer's offer and trickles its candidates as ICE_CANDIDATE messages,
as the SDKs do. Its video is a synthetic picture encoded by aiortc's own
H.264 encoder, its audio a tone encoded as Opus. The stream then holds
fragments (ListFragments), GetMedia's frames decode as H.264 and AAC and are
the very access units the master's encoder made, and an HLS session of the
stream plays in FFmpeg. In both modes: in-process (``kvs`` +
``kvs_signaling``) and against the ``kvsmock server``.
"""

from __future__ import annotations

import asyncio
import io
import re
from urllib.parse import urljoin

import aioice.ice
import av
import pytest
import requests
from aiortc.codecs.h264 import H264Encoder
from helpers.webrtc_peers import HEIGHT, WIDTH, Master, storage_channel, wait_for_fragments

from kvsmock import read_fragments
from kvsmock.media.codecs.nal import length_prefixed

#: Fragments a test waits for (about 2 s each: the storage peer asks for a keyframe when a fragment has lasted 2 s).
FRAGMENTS_WANTED = 3


@pytest.fixture(autouse=True)
def loopback_candidates(monkeypatch):
    """ICE host candidates on 127.0.0.1 only: no traffic leaves loopback."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.fixture
def sent_units(monkeypatch) -> list[list[bytes]]:
    """The NAL units of every access unit the master's H.264 encoder made, in order."""
    sent: list[list[bytes]] = []
    original = H264Encoder._encode_frame

    def recording(self, frame, force_keyframe):
        units = list(original(self, frame, force_keyframe))
        sent.append(units)
        yield from units

    monkeypatch.setattr(H264Encoder, "_encode_frame", recording)
    return sent


# --------------------------------------------------------------------------- helpers
def hls_video_frames(sig, stream: str, start: float, end: float) -> tuple[int, set[str]]:
    """Video frames FFmpeg decodes from an ON_DEMAND HLS session of the stream, and the stream types it saw."""
    endpoint = sig.kv.data_endpoint(stream, "GET_HLS_STREAMING_SESSION_URL")
    url = sig.kv.client("kinesis-video-archived-media", endpoint_url=endpoint).get_hls_streaming_session_url(
        StreamName=stream,
        PlaybackMode="ON_DEMAND",
        HLSFragmentSelector={
            "FragmentSelectorType": "PRODUCER_TIMESTAMP",
            "TimestampRange": {"StartTimestamp": start, "EndTimestamp": end},
        },
    )["HLSStreamingSessionURL"]
    if sig.mode == "server":
        with av.open(url, timeout=10) as container:
            types = {s.type for s in container.streams}
            return sum(1 for _ in container.decode(video=0)), types
    # In-process the session URL is served through moto's interception of requests: fetch, then decode.
    master = requests.get(url, timeout=10)
    assert master.status_code == 200, master.text
    assert re.search(r'CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=320x240', master.text), master.text
    playlist_url = urljoin(url, [ln for ln in master.text.splitlines() if ln and not ln.startswith("#")][0])
    playlist = requests.get(playlist_url, timeout=10).text
    init = re.search(r'#EXT-X-MAP:URI="([^"]+)"', playlist).group(1)
    parts = [init] + [ln for ln in playlist.splitlines() if ln and not ln.startswith("#")]
    data = b"".join(requests.get(urljoin(playlist_url, p), timeout=10).content for p in parts)
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0)), {"video", "audio"} if "mp4a" in master.text else {"video"}


# ----------------------------------------------------------------------------- tests
def test_master_media_is_stored_in_the_mapped_stream(sig, sent_units):
    arn, stream = storage_channel(sig, "ingest")
    url, tls = sig.url(arn), sig.kv.ssl_context()
    storage_client = sig.kv.webrtc_storage(arn)

    async def scenario():
        master = Master(url, tls, storage_client, arn)
        running = asyncio.create_task(master.run())
        try:
            await asyncio.wait_for(master.answered.wait(), 15)
            _, listed_at = await wait_for_fragments(sig, stream, 1)
            fragments, _ = await wait_for_fragments(sig, stream, FRAGMENTS_WANTED)
        finally:
            master.stop.set()
            await asyncio.wait_for(running, 10)
        return master, fragments, listed_at

    master, fragments, listed_at = asyncio.run(scenario())
    assert master.events == []  # no STATUS_RESPONSE: the answer and candidates were taken
    assert master.video.first_sent is not None
    # ListFragments: ABSOLUTE producer times from the frames' arrival, about 2 s each
    producer = [f["ProducerTimestamp"].timestamp() for f in fragments]
    assert producer == sorted(producer)
    assert abs(producer[0] - master.video.first_sent) < 2
    assert all(500 <= f["FragmentLengthInMilliseconds"] <= 5000 for f in fragments[:-1])
    print(f"\nfirst frame sent -> first fragment listed: {listed_at - master.video.first_sent:.2f} s; "
          f"fragments of {[f['FragmentLengthInMilliseconds'] for f in fragments]} ms")

    # GetMedia: H.264 (the access units as the master's encoder made them) and AAC
    payload = sig.kv.media(stream).get_media(
        StreamName=stream, StartSelector={"StartSelectorType": "EARLIEST"}
    )["Payload"].read()
    read = list(read_fragments(payload))
    assert len(read) >= FRAGMENTS_WANTED
    video, audio = read[0].tracks
    assert (video.codec_id, video.width, video.height) == ("V_MPEG4/ISO/AVC", WIDTH, HEIGHT)
    assert (audio.codec_id, audio.sampling_rate, audio.channels) == ("A_AAC", 48000.0, 2)
    assert all(f.frames[0].keyframe and f.frames[0].track_number == 1 for f in read)
    stored = [fr.data for f in read for fr in f.frames if fr.track_number == 1]
    made = [length_prefixed(units) for units in sent_units if units]  # the master runs in this process
    assert stored == made[: len(stored)]  # byte for byte, from the first frame on
    with av.open(io.BytesIO(payload)) as container:
        assert sorted(s.codec_context.name for s in container.streams) == ["aac", "h264"]
        pictures = [f for f in container.decode(video=0)]
        container.seek(0)
        sounds = [f for f in container.decode(audio=0)]
    assert len(pictures) == len(stored) and all((p.width, p.height) == (WIDTH, HEIGHT) for p in pictures)
    assert len(sounds) > 40 and sounds[0].sample_rate == 48000

    # HLS: FFmpeg plays the fragments GetMedia read (a range inclusive of the last one's start)
    frames, types = hls_video_frames(sig, stream, read[0].producer_timestamp - 1, read[-1].producer_timestamp)
    assert types == {"video", "audio"}
    assert frames == len(stored)
