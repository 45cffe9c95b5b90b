"""The storage session's service side without WebRTC: the peer hook, the session's lifetime, storing fragments.

A fake factory stands in for the signaling server's aiortc peers, so the
hub's rules (whose offer is sent, where answers and candidates go, which
peer a newer join or a leaving client ends) are checked by method calls.
:class:`StorageIngest` stores real live-MKV fragments in a real stream.
"""

from __future__ import annotations

import base64

import pytest
from helpers.live_media import aac_track, access_units

from kvsmock.api.moto_glue import backend_for
from kvsmock.errors import InvalidArgumentException
from kvsmock.media.live_mkv import LiveMkv
from kvsmock.service.channels import SignalingChannel
from kvsmock.service.signaling.hub import SignalingHub
from kvsmock.service.signaling.storage_ingest import StorageIngest
from kvsmock.service.signaling.storage_lifetime import IDLE_SECONDS, SESSION_SECONDS, StorageLifetime
from kvsmock.service.signaling.storage_peer import StoragePeerOrder, storage_peer_factories

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/ch/1700000000000"
STREAM = "arn:aws:kinesisvideo:us-east-1:123456789012:stream/s/1700000000000"
#: An answer's messagePayload (bare SDP, base64) with H.264 and Opus.
H264_OPUS = base64.b64encode(b"v=0\r\na=rtpmap:96 H264/90000\r\na=rtpmap:111 opus/48000/2\r\n").decode()


class FakePeer:
    def __init__(self, order: StoragePeerOrder, number: int):
        self.order = order
        self.offer = f"offer-{number}"
        self.got: list[tuple[str, str]] = []
        self.closed: str | None = None

    def answer(self, payload: str) -> None:
        self.got.append(("answer", payload))

    def candidate(self, payload: str) -> None:
        self.got.append(("candidate", payload))

    def close(self, reason: str) -> None:
        self.closed = reason


class FakeFactory:
    def __init__(self) -> None:
        self.peers: list[FakePeer] = []

    def __call__(self, order: StoragePeerOrder) -> FakePeer:
        peer = FakePeer(order, len(self.peers) + 1)
        self.peers.append(peer)
        return peer


class Client:
    def __init__(self) -> None:
        self.events: list[dict] = []

    def deliver(self, event: dict) -> None:
        self.events.append(event)

    def close(self, code: int, reason: str) -> None:
        pass


@pytest.fixture
def factory():
    made = FakeFactory()
    storage_peer_factories.add(made)
    yield made
    storage_peer_factories.remove(made)


def channel() -> SignalingChannel:
    return SignalingChannel(name="ch", arn=ARN, region="us-east-1", account_id="123456789012",
                            creation_time=0.0, message_ttl_seconds=60)


def test_the_peers_offer_goes_out_and_the_answers_come_back(factory):
    hub, ch, master = SignalingHub(), channel(), Client()
    mpeer = hub.connect(ch, "MASTER", None, master.deliver, master.close)
    hub.join_storage_session(ch, STREAM, stream=object())  # type: ignore[arg-type]
    peer = factory.peers[0]
    assert peer.order.client_id is None and peer.order.channel_arn == ARN
    assert master.events[-1] == {"messageType": "SDP_OFFER", "messagePayload": "offer-1"}
    hub.receive(mpeer, ch, {"action": "ICE_CANDIDATE", "messagePayload": "Y2FuZGlkYXRl"})
    hub.receive(mpeer, ch, {"action": "SDP_ANSWER", "messagePayload": H264_OPUS})
    assert peer.got == [("candidate", "Y2FuZGlkYXRl"), ("answer", H264_OPUS)]
    # an answer without the codecs is refused and never reaches the peer
    with pytest.raises(InvalidArgumentException):
        hub.state(ARN).storage.from_master("SDP_ANSWER", base64.b64encode(b"v=0\r\n").decode())
    assert len(peer.got) == 2


def test_without_the_stream_or_a_factory_the_offer_is_canned(factory):
    hub, ch = SignalingHub(), channel()
    hub.join_storage_session(ch, STREAM)  # no stream given: no media peer
    assert factory.peers == [] and hub.state(ARN).storage.master_peer is None
    assert "a=recvonly" in base64.b64decode(hub.pending(ARN, "MASTER")[0]["messagePayload"]).decode()


def test_newer_joins_and_leaving_clients_end_peers(factory):
    hub, ch, master, viewer = SignalingHub(), channel(), Client(), Client()
    mpeer = hub.connect(ch, "MASTER", None, master.deliver, master.close)
    vpeer = hub.connect(ch, "VIEWER", "v1", viewer.deliver, viewer.close)
    stream = object()
    hub.join_storage_session(ch, STREAM, stream=stream)  # type: ignore[arg-type]
    hub.join_storage_session_as_viewer(ch, STREAM, "v1", stream=stream)  # type: ignore[arg-type]
    first, watcher = factory.peers
    assert watcher.order.client_id == "v1" and viewer.events[-1]["messagePayload"] == "offer-2"
    hub.receive(vpeer, ch, {"action": "SDP_ANSWER", "messagePayload": H264_OPUS})
    assert watcher.got == [("answer", H264_OPUS)]
    hub._rest_limits.clear()  # the 2 TPS limit is not under test here
    hub.join_storage_session(ch, STREAM, stream=stream)  # type: ignore[arg-type]
    second = factory.peers[2]
    assert first.closed == "replaced by a newer JoinStorageSession" and second.closed is None
    storage = hub.state(ARN).storage
    assert storage.master_peer is second and storage.master_joins == 2
    hub.disconnect(mpeer)
    assert second.closed == "the master left the channel" and storage.master_peer is None
    assert watcher.closed is None  # a viewer's peer waits for the master's next join
    hub.disconnect(vpeer)
    assert watcher.closed == "the viewer left the channel" and storage.viewer_peers == {}
    assert storage.ended == [
        "replaced by a newer JoinStorageSession", "the master left the channel", "the viewer left the channel"
    ]


def test_a_peer_that_ends_by_itself_is_forgotten(factory):
    hub, ch = SignalingHub(), channel()
    hub.join_storage_session(ch, STREAM, stream=object())  # type: ignore[arg-type]
    peer = factory.peers[0]
    peer.order.ended(peer, "no media for 3 minutes")
    storage = hub.state(ARN).storage
    assert storage.master_peer is None and storage.ended == ["no media for 3 minutes"]
    assert peer.closed is None  # it ended itself: nobody closes it again


def test_lifetime():
    life = StorageLifetime(started_at=1000.0)
    assert life.ended(1000.0 + IDLE_SECONDS - 1) is None
    assert "no media for 3 minutes" in life.ended(1000.0 + IDLE_SECONDS)
    life.media(1100.0)
    assert life.ended(1100.0 + IDLE_SECONDS - 1) is None
    for t in range(1100, 1000 + SESSION_SECONDS, 60):
        life.media(float(t))
    assert "limit of 60 minutes" in life.ended(1000.0 + SESSION_SECONDS)


def test_storage_ingest_stores_fragments_through_put_media(kvs):
    kvs.kinesisvideo.create_stream(StreamName="webrtc", DataRetentionInHours=1)
    stream = backend_for("123456789012", "us-east-1").find_stream({"StreamName": "webrtc"})
    track, audio = aac_track(100)
    start = 1_767_225_600_000
    fragments = []
    for width, offset in ((176, 0), (320, 2000)):  # new parameter sets: a second upload
        writer = LiveMkv(track)
        for i, unit in enumerate(access_units(50, width, 144)):
            fragments += writer.audio(start + offset + i * 40, audio[i])
            fragments += writer.video(start + offset + i * 40, unit)
        fragments += writer.flush()
    ingest = StorageIngest(stream)
    assert all(ingest.store(f) for f in fragments)
    ingest.close()
    assert ingest.fragments_stored == len(fragments) == 4 and ingest.errors == []
    listed = kvs.archived_media("webrtc").list_fragments(StreamName="webrtc")["Fragments"]
    producer = sorted(round(f["ProducerTimestamp"].timestamp() * 1000) for f in listed)
    assert producer == [start, start + 1200, start + 2000, start + 3200]
    # the stream deleted: the ingest stops taking fragments
    kvs.kinesisvideo.delete_stream(StreamARN=stream.arn)
    ingest = StorageIngest(stream)
    assert ingest.store(fragments[0]) is False and ingest.gone
    assert ingest.errors[0]["ErrorCode"] == "STREAM_NOT_ACTIVE"
