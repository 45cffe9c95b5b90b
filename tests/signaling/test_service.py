"""The signaling service layer without the network: the hub driven by method calls."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from kvsmock import clock
from kvsmock.errors import ClientLimitExceededException, InvalidArgumentException, ResourceNotFoundException
from kvsmock.service.channels import SignalingChannel
from kvsmock.service.signaling.hub import SignalingHub, hub_for
from kvsmock.service.signaling.metering import usage_hooks
from kvsmock.service.signaling.peers import MAX_VIEWERS_PER_CHANNEL
from kvsmock.service.signaling.sdp import has_codec, sdp_of, storage_offer
from kvsmock.service.signaling.validation import check_channel_arn, check_client_id

ARN = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/ch/1700000000000"


def channel(ttl: int = 60) -> SignalingChannel:
    return SignalingChannel(name="ch", arn=ARN, region="us-east-1", account_id="123456789012",
                            creation_time=0.0, message_ttl_seconds=ttl)


class Client:
    """A fake transport connection: records what the hub delivers and closes."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.closed: tuple[int, str] | None = None

    def deliver(self, event: dict) -> None:
        self.events.append(event)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(autouse=True)
def reset_clock():
    yield
    clock.reset()


def connect(hub: SignalingHub, ch: SignalingChannel, client_id: str | None = None):
    client = Client()
    role = "VIEWER" if client_id is not None else "MASTER"
    return client, hub.connect(ch, role, client_id, client.deliver, client.close)


def test_routing_both_ways():
    hub, ch = SignalingHub(), channel()
    master, mpeer = connect(hub, ch)
    viewer, vpeer = connect(hub, ch, "v1")
    assert hub.receive(vpeer, ch, {"action": "SDP_OFFER", "messagePayload": b64("o")}) is None
    assert master.events == [{"senderClientId": "v1", "messageType": "SDP_OFFER", "messagePayload": b64("o")}]
    assert hub.receive(mpeer, ch, {"action": "SDP_ANSWER", "messagePayload": b64("a"), "recipientClientId": "v1"}) is None
    assert viewer.events == [{"messageType": "SDP_ANSWER", "messagePayload": b64("a")}]
    assert hub.state(ARN).counts["SDP_OFFER"] == 1 and hub.state(ARN).counts["delivered"] == 2


def test_replacement_closes_the_old_connection():
    hub, ch = SignalingHub(), channel()
    first, fpeer = connect(hub, ch)
    second, _ = connect(hub, ch)
    assert first.closed is not None and first.closed[0] == 1000
    assert not fpeer.active
    # a replaced connection's messages are dropped
    _, vpeer = connect(hub, ch, "v1")
    assert hub.receive(fpeer, ch, {"action": "SDP_ANSWER", "messagePayload": "eA==", "recipientClientId": "v1"}) is None
    hub.disconnect(fpeer)  # the old one going away does not unseat the new master
    assert hub.connected(ARN)["master"] is True


def test_queue_ttl_and_offer_replacement():
    hub, ch = SignalingHub(), channel(ttl=10)
    _, vpeer = connect(hub, ch, "v1")
    for text in ("offer-1", "offer-2"):
        hub.receive(vpeer, ch, {"action": "SDP_OFFER", "messagePayload": b64(text)})
    assert [e["messagePayload"] for e in hub.pending(ARN, "MASTER")] == [b64("offer-2")]
    clock.advance(11)
    assert hub.pending(ARN, "MASTER") == []
    master, _ = connect(hub, ch)
    assert master.events == []
    assert hub.state(ARN).counts["expired"] == 1 and hub.state(ARN).counts["replaced"] == 1


def test_status_response_shape():
    hub, ch = SignalingHub(), channel()
    _, mpeer = connect(hub, ch)
    got = hub.receive(mpeer, ch, {"ACTION": "SDP_ANSWER", "MESSAGEPAYLOAD": "eA==", "CorrelationId": "c-1"})
    assert got == {
        "messageType": "STATUS_RESPONSE",
        "statusResponse": {
            "correlationId": "c-1",
            "errorType": "InvalidArgumentException",
            "statusCode": "400",
            "description": "recipientClientId is required when the master sends a message.",
            "success": False,
        },
    }
    bad = hub.receive(mpeer, ch, {"action": "SDP_OFFER", "messagePayload": "eA==", "correlationId": "has space"})
    assert bad["statusResponse"]["errorType"] == "InvalidArgumentException"


def test_viewer_limit():
    hub, ch = SignalingHub(), channel()
    for i in range(MAX_VIEWERS_PER_CHANNEL):
        connect(hub, ch, f"v{i}")
    with pytest.raises(ClientLimitExceededException):
        connect(hub, ch, "one-too-many")
    connect(hub, ch, "v0")  # a replacement is fine


@pytest.mark.parametrize("arn", [None, "", "x", ARN + "/extra", "arn:aws:kinesisvideo:us-east-1:1:channel/" + "a" * 1100 + "/1"])
def test_channel_arn_checks(arn):
    with pytest.raises(InvalidArgumentException):
        check_channel_arn(arn)


def test_channel_arn_in_other_partitions_is_accepted():
    assert check_channel_arn(ARN.replace("arn:aws:", "arn:aws-cn:"))


@pytest.mark.parametrize("client_id", [None, "", "AWS_x", "Aws_x", "a b", "x" * 257])
def test_client_id_checks(client_id):
    with pytest.raises(InvalidArgumentException):
        check_client_id(client_id)


def test_alexa_offer_timeout_and_answer():
    hub, ch = SignalingHub(), channel()
    with pytest.raises(ResourceNotFoundException):
        hub.send_alexa_offer(ch, "alexa", b64("offer"), timeout=0.2)
    master, mpeer = connect(hub, ch)
    assert master.events[0]["senderClientId"] == "alexa"  # the expired call's offer was still within the TTL
    result: list[str] = []
    t = threading.Thread(target=lambda: result.append(hub.send_alexa_offer(ch, "alexa", b64("offer 2"), timeout=5)))
    t.start()
    deadline = threading.Event()
    while len(master.events) < 2:
        assert not deadline.wait(0.01) and t.is_alive()
    hub.receive(mpeer, ch, {"action": "SDP_ANSWER", "messagePayload": b64("answer"), "recipientClientId": "alexa"})
    t.join(5)
    assert result == [b64("answer")]


def test_storage_offer_and_answers():
    hub, ch = SignalingHub(), channel()
    master, mpeer = connect(hub, ch)
    hub.join_storage_session(ch, "arn:stream")
    offer = master.events[-1]
    assert "senderClientId" not in offer
    sdp = sdp_of(offer["messagePayload"])
    assert has_codec(sdp, "H264") and has_codec(sdp, "opus") and "a=recvonly" in sdp
    answer = base64.b64encode(json.dumps({"type": "answer", "sdp": "a=rtpmap:1 H264/90000\r\na=rtpmap:2 opus/48000/2\r\n"}).encode()).decode()
    assert hub.receive(mpeer, ch, {"action": "SDP_ANSWER", "messagePayload": answer, "correlationId": "1"}) is None
    assert hub.state(ARN).storage.master_answer == answer
    viewer, vpeer = connect(hub, ch, "v1")
    hub.join_storage_session_as_viewer(ch, "arn:stream", "v1")
    assert "a=sendonly" in sdp_of(viewer.events[-1]["messagePayload"])
    bad = hub.receive(vpeer, ch, {"action": "SDP_ANSWER", "messagePayload": b64("v=0\r\n"), "correlationId": "2"})
    assert bad["statusResponse"]["errorType"] == "InvalidArgumentException"


def test_storage_offer_is_valid_base64_json():
    payload = json.loads(base64.b64decode(storage_offer(True)))
    assert payload["type"] == "offer" and payload["sdp"].startswith("v=0\r\n")


def test_usage_hook_sees_messages():
    hub, ch = SignalingHub(), channel()
    seen: list[tuple] = []

    def hook(arn, what, n):
        seen.append((what, n))

    usage_hooks.append(hook)
    try:
        _, vpeer = connect(hub, ch, "v1")
        hub.receive(vpeer, ch, {"action": "ICE_CANDIDATE", "messagePayload": "eHl6"})
    finally:
        usage_hooks.remove(hook)  # the usage meter's own hook stays
    assert seen == [("CONNECT", 0), ("ICE_CANDIDATE", 4)]


def test_hub_lives_on_the_backend_and_resets_with_it():
    class Backend:
        pass

    backend = Backend()
    hub = hub_for(backend)
    assert hub_for(backend) is hub
    backend.__dict__ = {}  # what moto's reset does
    assert hub_for(backend) is not hub

