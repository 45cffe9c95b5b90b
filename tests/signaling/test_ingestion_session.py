"""The storage session's rules with a real media peer (in-process, where the service state can be seen).

Most recent producer wins, the master leaving ends the session, so do an
hour, three minutes without media and the stream's deletion; without aiortc
JoinStorageSession says what to install; without a signaling server the
offer is the canned one of old.
"""

from __future__ import annotations

import asyncio
import time

import aioice.ice
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from helpers.webrtc_peers import (
    DEADLINE_SECONDS, Master, decode, list_fragments, storage_channel, wait_for_fragments, when_allowed,
)

from kvsmock.api.moto_glue import backend_for
from kvsmock.service.signaling.hub import hub_for


@pytest.fixture(autouse=True)
def loopback_candidates(monkeypatch):
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


def storage(arn: str):
    return hub_for(backend_for("123456789012", "us-east-1")).state(arn).storage


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)


def offer_sdp(arn: str) -> str:
    pending = hub_for(backend_for("123456789012", "us-east-1")).pending(arn, "MASTER")
    assert len(pending) == 1  # a newer offer replaces an undelivered older one
    return decode(pending[0]["messagePayload"])["sdp"]


def test_the_offer_is_the_storage_peers_own(sig_local):
    arn, _ = storage_channel(sig_local, "real-offer")
    sig_local.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    sdp = offer_sdp(arn)
    assert "a=candidate:" in sdp and "127.0.0.1" in sdp  # host candidates: ICE can complete
    audio, video = sdp.split("m=audio", 1)[1].split("m=video", 1)
    assert "a=recvonly" in audio and "opus/48000/2" in audio and "PCMU" not in audio
    assert "a=recvonly" in video and "H264/90000" in video and "VP8" not in video


def test_a_newer_join_replaces_the_older_peer(sig_local):
    arn, _ = storage_channel(sig_local, "newest")
    client = sig_local.kv.webrtc_storage(arn)
    client.join_storage_session(channelArn=arn)
    first = storage(arn).master_peer
    first_offer = offer_sdp(arn)
    when_allowed(client.join_storage_session, channelArn=arn)
    session = storage(arn)
    assert session.master_peer is not None and session.master_peer is not first
    assert session.ended == ["replaced by a newer JoinStorageSession"]
    assert session.master_joins == 2 and offer_sdp(arn) != first_offer
    wait_until(lambda: first.ended_reason is not None, "the older peer closes")


@pytest.mark.parametrize(
    ("advance", "reason"),
    [(181, "no media for 3 minutes"), (3600, "reached its limit of 60 minutes")],
    ids=["idle-3-minutes", "one-hour"],
)
def test_the_session_ends_by_itself(sig_local, advance, reason):
    arn, _ = storage_channel(sig_local, "lifetime")
    sig_local.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    assert storage(arn).master_peer is not None
    sig_local.advance_clock(advance)
    wait_until(lambda: storage(arn).master_peer is None, "the peer ends")
    assert len(storage(arn).ended) == 1 and reason in storage(arn).ended[0]


def stream_then(sig, name: str, action) -> str:
    """Stream from an aiortc master until the stream has a fragment, then run ``action(arn, stream)``; the ARN."""
    arn, stream = storage_channel(sig, name)
    url, storage_client = sig.url(arn), sig.kv.webrtc_storage(arn)

    async def scenario():
        master = Master(url, None, storage_client, arn)
        running = asyncio.create_task(master.run())
        try:
            await asyncio.wait_for(master.answered.wait(), 15)
            await wait_for_fragments(sig, stream, 1)
            await asyncio.to_thread(action, arn, stream)
        finally:
            master.stop.set()
            await asyncio.wait_for(running, 10)

    asyncio.run(scenario())
    return arn


def test_the_master_leaving_ends_the_session(sig_local):
    async def closed(master: Master) -> None:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while master.pc.connectionState not in ("closed", "failed"):
            assert time.monotonic() < deadline, "kvsmock's peer never closed the connection"
            await asyncio.sleep(0.05)
        await master.pc.close()

    arn, stream = storage_channel(sig_local, "leaving")
    url, storage_client = sig_local.url(arn), sig_local.kv.webrtc_storage(arn)

    async def scenario():
        master = Master(url, None, storage_client, arn, close_peer=False)
        running = asyncio.create_task(master.run())
        await asyncio.wait_for(master.answered.wait(), 15)
        await wait_for_fragments(sig_local, stream, 1)
        master.stop.set()  # leaves signaling; its peer connection stays open
        await asyncio.wait_for(running, 10)
        await asyncio.to_thread(wait_until, lambda: storage(arn).master_peer is None, "the peer ends")
        await asyncio.wait_for(closed(master), DEADLINE_SECONDS)  # kvsmock closed its side

    asyncio.run(scenario())
    assert storage(arn).ended == ["the master left the channel"]
    stored = len(list_fragments(sig_local, stream))
    time.sleep(0.3)
    assert len(list_fragments(sig_local, stream)) == stored  # nothing more is stored


def test_deleting_the_stream_ends_the_session(sig_local):
    def delete(arn, stream):
        c = sig_local.kinesisvideo
        c.delete_stream(StreamARN=c.describe_stream(StreamName=stream)["StreamInfo"]["StreamARN"])
        wait_until(lambda: storage(arn).master_peer is None, "the peer ends")

    arn = stream_then(sig_local, "deleted", delete)
    assert storage(arn).ended == ["the stream deleted-stream can take no more media"]


def test_without_aiortc_join_storage_session_says_what_to_install(sig_local, monkeypatch):
    import kvsmock.server.storage_peers as storage_peers

    monkeypatch.setattr(storage_peers, "ingestion_available", lambda: False)
    arn, _ = storage_channel(sig_local, "no-aiortc")
    endpoint = sig_local.kv._channel_endpoint(arn, "WEBRTC")
    client = sig_local.kv.client("kinesis-video-webrtc-storage", endpoint_url=endpoint,
                                 config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    with pytest.raises(ClientError) as e:
        client.join_storage_session(channelArn=arn)
    assert e.value.response["Error"]["Code"] == "InternalFailure"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert "pip install 'aiortc" in e.value.response["Error"]["Message"]


def test_without_a_signaling_server_the_offer_is_canned(kvs):
    class Sig:
        kinesisvideo = kvs.kinesisvideo

        @staticmethod
        def channel(name):
            return kvs.kinesisvideo.create_signaling_channel(ChannelName=name)["ChannelARN"]

    arn, _ = storage_channel(Sig, "canned")
    kvs.webrtc_storage(arn).join_storage_session(channelArn=arn)
    sdp = offer_sdp(arn)
    assert "a=candidate:" not in sdp and "c=IN IP4 0.0.0.0" in sdp
    assert storage(arn).master_peer is None
