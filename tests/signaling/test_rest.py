"""kinesis-video-signaling (GetIceServerConfig, SendAlexaOfferToMaster) and
kinesis-video-webrtc-storage (JoinStorageSession, JoinStorageSessionAsViewer)."""

from __future__ import annotations

import base64
import re
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor, wait

import pytest
from botocore.exceptions import ClientError

MISSING = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/missing/1234567890123"


def error(e) -> tuple[str, int]:
    return e.value.response["Error"]["Code"], e.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ---------------------------------------------------------------- GetIceServerConfig
def test_ice_server_config_shape(sig):
    arn = sig.channel()
    before = int(sig.now())
    out = sig.rest(arn, "VIEWER").get_ice_server_config(ChannelARN=arn, ClientId="viewer-1", Service="TURN")
    after = int(sig.now())
    servers = out["IceServerList"]
    assert len(servers) == 2
    for server in servers:
        assert server["Ttl"] == 300
        assert [u.split(":", 1)[0] for u in server["Uris"]] == ["turn", "turns", "turns"]
        assert [u.rsplit("?", 1)[1] for u in server["Uris"]] == ["transport=udp", "transport=udp", "transport=tcp"]
        for uri in server["Uris"]:
            assert re.fullmatch(r"turns?:127\.0\.0\.1:\d+\?transport=(udp|tcp)", uri), uri
        expiry, tag = server["Username"].split(":", 1)
        assert before + 300 <= int(expiry) <= after + 301  # <expiry epoch seconds>, 300 s ahead
        assert base64.b64decode(tag).decode() == f"v1:{arn}"
        assert len(base64.b64decode(server["Password"])) == 20
    # the URIs point at the signaling server's UDP responder
    port = int(servers[0]["Uris"][0].split(":")[2].split("?")[0])
    ws_port = int(sig.url(arn).split(":")[2].split("/")[0])
    assert port == ws_port


def test_ice_server_config_errors(sig):
    arn = sig.channel()
    client = sig.rest(arn)
    with pytest.raises(ClientError) as e:
        client.get_ice_server_config(ChannelARN=MISSING)
    assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        client.get_ice_server_config(ChannelARN=arn, Service="STUN")
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        client.get_ice_server_config(ChannelARN=arn.replace("123456789012", "210987654321"))
    assert error(e) == ("NotAuthorizedException", 401)


def test_ice_server_config_rate_limit(sig):
    arn = sig.channel()
    client = sig.rest(arn)
    codes = []
    for _ in range(7):
        try:
            client.get_ice_server_config(ChannelARN=arn)
            codes.append("ok")
        except ClientError as err:
            codes.append(err.response["Error"]["Code"])
    assert codes[:5] == ["ok"] * 5
    assert "ClientLimitExceededException" in codes[5:]
    # per channel: another channel is not throttled
    other = sig.channel("other")
    sig.rest(other).get_ice_server_config(ChannelARN=other)


def stun_request(method: int, port: int, attributes: bytes = b"") -> tuple[int, bytes]:
    """Send one STUN request to 127.0.0.1:port; returns (message type, attributes)."""
    tid = bytes(range(12))
    message_type = (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2)
    packet = struct.pack("!HHI12s", message_type, len(attributes), 0x2112A442, tid) + attributes
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        s.sendto(packet, ("127.0.0.1", port))
        data, _ = s.recvfrom(2048)
        local_port = s.getsockname()[1]
    got_type, length, cookie, got_tid = struct.unpack_from("!HHI12s", data)
    assert cookie == 0x2112A442 and got_tid == tid
    return got_type, data[20:20 + length], local_port


def test_ice_uris_answer_stun_and_challenge_turn(sig):
    arn = sig.channel()
    uri = sig.rest(arn).get_ice_server_config(ChannelARN=arn)["IceServerList"][0]["Uris"][0]
    port = int(uri.split(":")[2].split("?")[0])
    # STUN Binding: success with the sender's address
    got_type, attrs, local_port = stun_request(0x001, port)
    assert got_type == 0x0101
    kind, length = struct.unpack_from("!HH", attrs)
    assert kind == 0x0020
    _, family, xport, xaddr = struct.unpack_from("!BBHI", attrs, 4)
    assert family == 1 and xport ^ 0x2112 == local_port
    assert socket.inet_ntoa(struct.pack("!I", xaddr ^ 0x2112A442)) == "127.0.0.1"
    # TURN Allocate without credentials: 401 Unauthorized, with the realm and a nonce to sign with
    requested_transport = struct.pack("!HHI", 0x0019, 4, 17 << 24)
    got_type, attrs, _ = stun_request(0x003, port, requested_transport)
    assert got_type == 0x0113
    kind, length = struct.unpack_from("!HH", attrs)
    assert kind == 0x0009
    _, klass, number = struct.unpack_from("!HBB", attrs, 4)
    assert klass * 100 + number == 401
    kinds, pos = set(), 0
    while pos < len(attrs):
        kind, length = struct.unpack_from("!HH", attrs, pos)
        kinds.add(kind)
        pos += 4 + length + (-length % 4)
    assert {0x0014, 0x0015} <= kinds  # REALM, NONCE


# ------------------------------------------------------------ SendAlexaOfferToMaster
def test_alexa_offer_reaches_the_master_and_returns_its_answer(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    client = sig.rest(arn)
    offer = wire.b64({"type": "offer", "sdp": "v=0\r\n"})
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(client.send_alexa_offer_to_master, ChannelARN=arn, SenderClientId="alexa-1", MessagePayload=offer)
        got = wire.recv_json(master)
        assert got == {"senderClientId": "alexa-1", "messageType": "SDP_OFFER", "messagePayload": offer}
        master.send(wire.message("ICE_CANDIDATE", "cand", recipient="alexa-1"))  # not relayed, no error
        answer = wire.b64({"type": "answer", "sdp": "v=0\r\n"})
        master.send(wire.message("SDP_ANSWER", {"type": "answer", "sdp": "v=0\r\n"}, recipient="alexa-1"))
        assert call.result(timeout=10)["Answer"] == answer
    wire.assert_silent(master, 0.1)


def test_alexa_offer_waits_for_a_master_that_connects_later(sig, wire):
    arn = sig.channel()
    client = sig.rest(arn)
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(client.send_alexa_offer_to_master, ChannelARN=arn, SenderClientId="alexa-1",
                           MessagePayload=wire.b64("offer"))
        sig.wait_for_messages(arn, 1)  # the offer has arrived and is held: no master yet
        assert not call.done()
        master = sig.connect(arn)
        assert wire.recv_json(master)["senderClientId"] == "alexa-1"
        master.send(wire.message("SDP_ANSWER", "late answer", recipient="alexa-1"))
        assert call.result(timeout=10)["Answer"] == wire.b64("late answer")


def test_alexa_offer_fails_when_no_master_answers_within_the_ttl(sig, wire):
    arn = sig.channel(ttl=5)
    client = sig.rest(arn)
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        call = pool.submit(client.send_alexa_offer_to_master, ChannelARN=arn, SenderClientId="alexa-1",
                           MessagePayload=wire.b64("offer"))
        sig.wait_for_messages(arn, 1)  # the offer has arrived and is held: the call is waiting for an answer
        # The emulator's clock passes the TTL: no need to wait 5 s. (Moved again should the call have
        # read the clock for its deadline just after it was moved.)
        while not call.done():
            sig.advance_clock(6)
            wait([call], timeout=0.5)
        with pytest.raises(ClientError) as e:
            call.result()
    assert error(e) == ("ResourceNotFoundException", 404)
    assert "TTL" in e.value.response["Error"]["Message"]
    assert time.monotonic() - started < 4


def test_alexa_offer_errors(sig, wire):
    arn = sig.channel()
    client = sig.rest(arn)
    with pytest.raises(ClientError) as e:
        client.send_alexa_offer_to_master(ChannelARN=MISSING, SenderClientId="a", MessagePayload=wire.b64("o"))
    assert error(e) == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as e:
        client.send_alexa_offer_to_master(ChannelARN=arn, SenderClientId="bad id", MessagePayload=wire.b64("o"))
    assert error(e) == ("InvalidArgumentException", 400)
    with pytest.raises(ClientError) as e:
        client.send_alexa_offer_to_master(ChannelARN=arn, SenderClientId="a", MessagePayload="x" * 10_001)
    assert error(e) == ("InvalidArgumentException", 400)


# --------------------------------------------------------------- webrtc-storage
def storage_channel(sig, name: str = "stored") -> str:
    c = sig.kinesisvideo
    arn = sig.channel(name)
    stream = c.create_stream(StreamName=f"{name}-stream", DataRetentionInHours=24)["StreamARN"]
    c.update_media_storage_configuration(
        ChannelARN=arn, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"}
    )
    return arn


def answer_sdp(*codecs: str) -> dict:
    lines = ["v=0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "m=video 9 UDP/TLS/RTP/SAVPF 102"]
    lines += [f"a=rtpmap:{100 + i} {codec}/90000" for i, codec in enumerate(codecs)]
    return {"type": "answer", "sdp": "\r\n".join(lines) + "\r\n"}


def test_join_storage_session_sends_the_master_an_offer(sig, wire):
    arn = storage_channel(sig)
    master = sig.connect(arn)
    out = sig.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    offer = wire.recv_json(master)
    assert offer["messageType"] == "SDP_OFFER"
    assert "senderClientId" not in offer  # messages from the storage session carry none
    sdp = base64.b64decode(offer["messagePayload"])
    assert b'"type": "offer"' in sdp and b"H264/90000" in sdp and b"opus/48000" in sdp
    # the master answers without a recipient: the storage session takes it
    master.send(wire.message("SDP_ANSWER", answer_sdp("H264", "opus"), correlation="a1"))
    master.send(wire.message("ICE_CANDIDATE", {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host"}, correlation="c1"))
    wire.assert_silent(master)


def test_storage_session_rejects_an_answer_without_its_codecs(sig, wire):
    arn = storage_channel(sig)
    master = sig.connect(arn)
    sig.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    wire.recv_json(master)
    master.send(wire.message("SDP_ANSWER", answer_sdp("VP8", "opus"), correlation="1700186220273"))
    status = wire.recv_json(master)["statusResponse"]
    assert status["correlationId"] == "1700186220273"
    assert (status["errorType"], status["statusCode"]) == ("InvalidArgumentException", "400")
    assert "H.264" in status["description"]


def test_join_storage_session_offer_waits_for_the_master(sig, wire):
    arn = storage_channel(sig)
    sig.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    master = sig.connect(arn)
    assert wire.recv_json(master)["messageType"] == "SDP_OFFER"


def test_join_storage_session_as_viewer(sig, wire):
    arn = storage_channel(sig)
    master = sig.connect(arn)
    viewer = sig.connect(arn, "viewer-1")
    out = sig.kv.webrtc_storage(arn).join_storage_session_as_viewer(channelArn=arn, clientId="viewer-1")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    offer = wire.recv_json(viewer)
    assert offer["messageType"] == "SDP_OFFER" and "senderClientId" not in offer
    # the viewer answers the storage session, not the master
    viewer.send(wire.message("SDP_ANSWER", answer_sdp("opus"), correlation="v1"))
    wire.assert_silent(master)
    wire.assert_silent(viewer, 0.1)
    # a peer-to-peer offer from the viewer still goes to the master
    viewer.send(wire.message("SDP_OFFER", "p2p"))
    assert wire.recv_json(master)["senderClientId"] == "viewer-1"


@pytest.mark.parametrize("operation", ["join_storage_session", "join_storage_session_as_viewer"])
def test_join_storage_session_errors(sig, operation):
    c = sig.kinesisvideo
    arn = sig.channel("plain")
    stored = storage_channel(sig)
    client = sig.kv.webrtc_storage(stored)
    kwargs = {"clientId": "viewer-1"} if operation == "join_storage_session_as_viewer" else {}
    call = getattr(client, operation)
    # not mapped to a stream
    with pytest.raises(ClientError) as e:
        call(channelArn=arn, **kwargs)
    assert error(e) == ("InvalidArgumentException", 400)
    assert "not mapped" in e.value.response["Error"]["Message"]
    # mapping DISABLED again
    stream = c.create_stream(StreamName="s2", DataRetentionInHours=1)["StreamARN"]
    c.update_media_storage_configuration(ChannelARN=arn, MediaStorageConfiguration={"StreamARN": stream, "Status": "ENABLED"})
    c.update_media_storage_configuration(ChannelARN=arn, MediaStorageConfiguration={"Status": "DISABLED"})
    with pytest.raises(ClientError) as e:
        call(channelArn=arn, **kwargs)
    assert error(e) == ("InvalidArgumentException", 400)
    # unknown channel
    with pytest.raises(ClientError) as e:
        call(channelArn=MISSING, **kwargs)
    assert error(e) == ("ResourceNotFoundException", 404)
    # another account's channel
    with pytest.raises(ClientError) as e:
        call(channelArn=stored.replace("123456789012", "210987654321"), **kwargs)
    assert error(e) == ("AccessDeniedException", 403)
    # a malformed ARN
    with pytest.raises(ClientError) as e:
        call(channelArn="arn:aws:kinesisvideo:us-east-1:123456789012:channel/x", **kwargs)
    assert error(e) == ("InvalidArgumentException", 400)


def test_join_storage_session_as_viewer_checks_the_client_id(sig):
    stored = storage_channel(sig)
    with pytest.raises(ClientError) as e:
        sig.kv.webrtc_storage(stored).join_storage_session_as_viewer(channelArn=stored, clientId="bad id")
    assert error(e) == ("InvalidArgumentException", 400)


def test_join_storage_session_rate_limit(sig):
    stored = storage_channel(sig)
    client = sig.kv.webrtc_storage(stored)
    codes = []
    for _ in range(4):
        try:
            client.join_storage_session(channelArn=stored)
            codes.append("ok")
        except ClientError as err:
            codes.append(err.response["Error"]["Code"])
    assert codes[:2] == ["ok", "ok"]
    assert "ClientLimitExceededException" in codes[2:]


def test_storage_state_is_inspectable_in_process(sig_local, wire):
    from kvsmock.api.moto_glue import backend_for
    from kvsmock.service.signaling.hub import hub_for

    arn = storage_channel(sig_local)
    master = sig_local.connect(arn)
    sig_local.kv.webrtc_storage(arn).join_storage_session(channelArn=arn)
    wire.recv_json(master)
    answer = wire.b64(answer_sdp("H264", "opus"))
    master.send(wire.message("SDP_ANSWER", answer_sdp("H264", "opus")))
    hub = hub_for(backend_for("123456789012", "us-east-1"))
    deadline = time.monotonic() + 5
    while hub.state(arn).storage.master_answer is None:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    storage = hub.state(arn).storage
    assert storage.master_answer == answer and storage.master_joins == 1
    assert hub.connected(arn) == {"master": True, "viewers": []}


def test_handlers_are_registered():
    from kvsmock.api.dispatch import HANDLERS

    for op in ("GetIceServerConfig", "SendAlexaOfferToMaster", "JoinStorageSession", "JoinStorageSessionAsViewer"):
        assert op in HANDLERS


def test_concurrent_alexa_offers_from_two_devices(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    client = sig.rest(arn)
    with ThreadPoolExecutor(2) as pool:
        calls = {
            d: pool.submit(client.send_alexa_offer_to_master, ChannelARN=arn, SenderClientId=d, MessagePayload=wire.b64(d))
            for d in ("alexa-a", "alexa-b")
        }
        senders = {wire.recv_json(master)["senderClientId"] for _ in calls}
        assert senders == set(calls)
        for d in calls:
            master.send(wire.message("SDP_ANSWER", f"answer {d}", recipient=d))
        for d, call in calls.items():
            assert call.result(timeout=10)["Answer"] == wire.b64(f"answer {d}")
