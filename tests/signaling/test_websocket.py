"""The WebSocket signaling endpoint: connect, routing, replacement, TTL, STATUS_RESPONSE, limits."""

from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

MISSING = "arn:aws:kinesisvideo:us-east-1:123456789012:channel/missing/1234567890123"


def refused(sig, url: str) -> tuple[int, str, dict]:
    with pytest.raises(InvalidStatus) as e:
        sig.connect(None, url=url)
    response = e.value.response
    return response.status_code, response.headers.get("x-amzn-ErrorType"), json.loads(bytes(response.body))


def ws_base(sig, arn: str) -> str:
    return sig.url(arn).split("?", 1)[0]


# ------------------------------------------------------------------------- connect
def test_endpoint_is_the_signaling_server(sig):
    arn = sig.channel()
    for role in ("MASTER", "VIEWER"):
        got = sig.kinesisvideo.get_signaling_channel_endpoint(
            ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": role}
        )["ResourceEndpointList"]
        endpoints = {e["Protocol"]: e["ResourceEndpoint"] for e in got}
        # The server hands out wss:// as the service does; the in-process endpoint speaks plain ws://.
        assert endpoints["WSS"].startswith("wss://127.0.0.1:" if sig.mode == "server" else "ws://127.0.0.1:")
        if sig.mode == "server":
            assert endpoints["WSS"] == sig.kv.signaling_url
            assert endpoints["HTTPS"] == sig.kv.endpoint_url  # REST stays on the HTTP port


def test_unknown_channel_is_refused_at_connect(sig):
    base = ws_base(sig, sig.channel("other"))
    status, error_type, body = refused(sig, f"{base}/?X-Amz-ChannelARN={MISSING}")
    assert (status, error_type) == (404, "ResourceNotFoundException")
    assert "not found" in body["Message"]
    # signed the way the SDKs sign, the same
    url = sig.url(sig.channel("third")).replace("channel%2Fthird", "channel%2Fmissing")
    assert refused(sig, url)[:2] == (404, "ResourceNotFoundException")


@pytest.mark.parametrize(
    "query",
    [
        "",  # no X-Amz-ChannelARN
        "X-Amz-ChannelARN=",
        "X-Amz-ChannelARN=not-an-arn",
        "X-Amz-ChannelARN=arn:aws:kinesisvideo:us-east-1:123456789012:channel/x",
    ],
)
def test_bad_channel_arn_is_invalid_argument(sig, query):
    base = ws_base(sig, sig.channel())
    status, error_type, _ = refused(sig, f"{base}/?{query}")
    assert (status, error_type) == (400, "InvalidArgumentException")


@pytest.mark.parametrize("client_id", ["", "AWS_viewer", "aws_viewer", "bad id", "x" * 257, "émile"])
def test_bad_client_id_is_invalid_argument(sig, client_id):
    arn = sig.channel()
    url = sig.url(arn, "placeholder").replace("X-Amz-ClientId=placeholder", f"X-Amz-ClientId={quote(client_id)}")
    status, error_type, body = refused(sig, url)
    assert (status, error_type) == (400, "InvalidArgumentException")
    assert "ClientId" in body["Message"]


def test_other_accounts_channel_is_access_denied(sig):
    arn = sig.channel()
    url = sig.url(arn).replace("123456789012", "210987654321")  # the ARN names another account
    status, error_type, _ = refused(sig, url)
    assert (status, error_type) == (403, "AccessDeniedException")


def test_unsigned_connect_is_accepted(sig, wire):
    """kvsmock does not check signatures (nor does moto): an unsigned URL works."""
    arn = sig.channel()
    base = ws_base(sig, arn)
    master = sig.connect(None, url=f"{base}/?X-Amz-ChannelARN={arn}")
    viewer = sig.connect(None, url=f"{base}/?X-Amz-ChannelARN={arn}&X-Amz-ClientId=v1")
    viewer.send(wire.message("SDP_OFFER", "offer"))
    assert wire.recv_json(master)["senderClientId"] == "v1"


def test_plain_http_to_the_signaling_port_needs_an_upgrade(sig):
    import requests

    base = ws_base(sig, sig.channel()).replace("wss://", "https://").replace("ws://", "http://")
    r = requests.get(base + "/", timeout=5, verify=sig.kv.ca_file if sig.mode == "server" else True)
    assert r.status_code == 426


# ------------------------------------------------------------------------- routing
def test_offer_answer_candidates_between_master_and_viewer(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "viewer-1")
    offer = {"type": "offer", "sdp": "v=0\r\n"}
    viewer.send(wire.message("SDP_OFFER", offer, correlation="c1", recipientClientId="ignored"))
    got = wire.recv_json(master)
    assert got == {"senderClientId": "viewer-1", "messageType": "SDP_OFFER", "messagePayload": wire.b64(offer)}
    master.send(wire.message("SDP_ANSWER", {"type": "answer"}, recipient="viewer-1", correlation="c2"))
    got = wire.recv_json(viewer)
    assert got == {"messageType": "SDP_ANSWER", "messagePayload": wire.b64({"type": "answer"})}
    candidate = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0", "sdpMLineIndex": 0}
    viewer.send(wire.message("ICE_CANDIDATE", candidate))
    master.send(wire.message("ICE_CANDIDATE", candidate, recipient="viewer-1"))
    assert wire.recv_json(master)["messageType"] == "ICE_CANDIDATE"
    assert wire.recv_json(viewer)["messagePayload"] == wire.b64(candidate)
    # success sends nothing back to the sender
    wire.assert_silent(master)
    wire.assert_silent(viewer)


def test_several_viewers_on_one_channel(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    viewers = {f"viewer-{i}": sig.connect(arn, f"viewer-{i}") for i in range(4)}
    for name, ws in viewers.items():
        ws.send(wire.message("SDP_OFFER", f"offer from {name}"))
    offers = [wire.recv_json(master) for _ in viewers]
    assert sorted(o["senderClientId"] for o in offers) == sorted(viewers)
    for o in offers:
        assert o["messagePayload"] == wire.b64(f"offer from {o['senderClientId']}")
    for name in viewers:
        master.send(wire.message("SDP_ANSWER", f"answer for {name}", recipient=name))
    for name, ws in viewers.items():
        assert wire.recv_json(ws)["messagePayload"] == wire.b64(f"answer for {name}")
        wire.assert_silent(ws, 0.1)  # nobody got another viewer's answer


def test_viewer_cannot_reach_another_viewer(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    v1, v2 = sig.connect(arn, "v1"), sig.connect(arn, "v2")
    v1.send(wire.message("SDP_OFFER", "to v2?", recipient="v2"))
    assert wire.recv_json(master)["senderClientId"] == "v1"  # always to the master
    # Had v1's offer also gone to v2, it would have been queued for v2 before the master even got it:
    # so what v2 receives first is the master's message, sent after.
    master.send(wire.message("SDP_ANSWER", "from the master", recipient="v2"))
    assert wire.recv_json(v2) == {"messageType": "SDP_ANSWER", "messagePayload": wire.b64("from the master")}


def test_pascal_case_keys_are_accepted(sig, wire):
    """The C SDK sends "action", "RecipientClientId", "MessagePayload", "CorrelationId"."""
    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "v1")
    viewer.send(json.dumps({"action": "SDP_OFFER", "MessagePayload": wire.b64("o"), "CorrelationId": "1"}))
    assert wire.recv_json(master)["messagePayload"] == wire.b64("o")
    master.send(json.dumps({"Action": "SDP_ANSWER", "RecipientClientId": "v1", "MessagePayload": wire.b64("a")}))
    assert wire.recv_json(viewer)["messagePayload"] == wire.b64("a")


def test_frames_that_are_not_messages_are_ignored(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "v1")
    for junk in ("", "not json", "[1, 2]", "42", b"\xff\xfe"):
        viewer.send(junk)
    viewer.send(wire.message("SDP_OFFER", "after junk"))
    assert wire.recv_json(master)["messagePayload"] == wire.b64("after junk")
    wire.assert_silent(viewer)


# ------------------------------------------------------------------ STATUS_RESPONSE
@pytest.mark.parametrize(
    "bad, fragment",
    [
        ({"action": "SDP_BANANA", "messagePayload": "eA=="}, "action"),
        ({"messagePayload": "eA=="}, "action"),
        ({"action": "SDP_OFFER"}, "messagePayload"),
        ({"action": "SDP_OFFER", "messagePayload": ""}, "messagePayload"),
        ({"action": "SDP_OFFER", "messagePayload": "x" * 10_001}, "limit"),
        ({"action": "SDP_OFFER", "messagePayload": "eA==", "recipientClientId": "bad id"}, "recipientClientId"),
        ({"action": "SDP_ANSWER", "messagePayload": "eA=="}, "recipientClientId is required"),
    ],
)
def test_failed_message_gets_a_status_response(sig, wire, bad, fragment):
    arn = sig.channel()
    master = sig.connect(arn)
    master.send(json.dumps({**bad, "correlationId": "corr-1"}))
    got = wire.recv_json(master)
    assert got["messageType"] == "STATUS_RESPONSE"
    status = got["statusResponse"]
    assert status["correlationId"] == "corr-1"
    assert status["errorType"] == "InvalidArgumentException"
    assert status["statusCode"] == "400"  # a string, as the service sends it
    assert fragment in status["description"]
    assert "senderClientId" not in got and "messagePayload" not in got


def test_failure_without_correlation_id_is_silent(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    master.send(wire.message("SDP_ANSWER", "no recipient"))  # fails, but carries no correlationId
    wire.assert_silent(master)
    master.send(wire.message("SDP_ANSWER", "no recipient", correlation="second"))
    assert wire.recv_json(master)["statusResponse"]["correlationId"] == "second"


def test_payload_of_exactly_the_limit_is_relayed(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "v1")
    viewer.send(json.dumps({"action": "ICE_CANDIDATE", "messagePayload": "A" * 10_000, "correlationId": "big"}))
    assert len(wire.recv_json(master)["messagePayload"]) == 10_000


def test_message_rate_limit_per_connection(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "v1")
    for i in range(6):
        viewer.send(wire.message("SDP_OFFER", f"offer {i}", correlation=f"o{i}"))
    for i in range(5):
        assert wire.recv_json(master)["messagePayload"] == wire.b64(f"offer {i}")
    got = wire.recv_json(viewer)
    assert got["statusResponse"]["correlationId"] == "o5"
    assert got["statusResponse"]["errorType"] == "ClientLimitExceededException"
    assert got["statusResponse"]["statusCode"] == "400"
    wire.assert_silent(master, 0.1)
    # ICE candidates have their own, larger budget
    for i in range(20):
        viewer.send(wire.message("ICE_CANDIDATE", f"c{i}", correlation=f"c{i}"))
    assert [wire.recv_json(master)["messagePayload"] for _ in range(20)] == [wire.b64(f"c{i}") for i in range(20)]
    wire.assert_silent(viewer, 0.1)


# ------------------------------------------------------------------ replacement
def test_new_master_replaces_the_old_one(sig, wire):
    arn = sig.channel()
    first = sig.connect(arn)
    second = sig.connect(arn)
    with pytest.raises(ConnectionClosed) as e:
        first.recv(timeout=5)
    assert e.value.rcvd is not None and e.value.rcvd.code == 1000
    viewer = sig.connect(arn, "v1")
    viewer.send(wire.message("SDP_OFFER", "offer"))
    assert wire.recv_json(second)["senderClientId"] == "v1"


def test_new_viewer_with_the_same_client_id_replaces_the_old_one(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    old = sig.connect(arn, "v1")
    new = sig.connect(arn, "v1")
    with pytest.raises(ConnectionClosed):
        old.recv(timeout=5)
    master.send(wire.message("SDP_ANSWER", "answer", recipient="v1"))
    assert wire.recv_json(new)["messagePayload"] == wire.b64("answer")


def test_viewer_limit_per_channel(sig):
    arn = sig.channel()
    for i in range(10):
        sig.connect(arn, f"v{i}")
    status, error_type, _ = refused(sig, sig.url(arn, "v10"))
    assert (status, error_type) == (400, "ClientLimitExceededException")
    sig.connect(arn, "v3")  # replacing a connected viewer is not an eleventh one


def test_a_viewer_that_leaves_frees_its_place(sig):
    arn = sig.channel()
    sockets = [sig.connect(arn, f"v{i}") for i in range(10)]
    sockets[0].close()
    deadline = time.monotonic() + 5
    while True:
        try:
            sig.connect(arn, "v10")
            break
        except InvalidStatus:
            assert time.monotonic() < deadline
            time.sleep(0.05)


# ------------------------------------------------------------------ held messages
def test_offer_waits_for_the_master_to_connect(sig, wire):
    arn = sig.channel()
    viewer = sig.connect(arn, "v1")
    viewer.send(wire.message("SDP_OFFER", "first offer"))
    viewer.send(wire.message("ICE_CANDIDATE", "cand-1"))
    viewer.send(wire.message("SDP_OFFER", "second offer"))  # replaces the undelivered first offer
    viewer.send(wire.message("ICE_CANDIDATE", "cand-2"))
    wire.sync(viewer)  # all four are held before the master arrives
    master = sig.connect(arn)
    got = [wire.recv_json(master)["messagePayload"] for _ in range(3)]
    assert got == [wire.b64("cand-1"), wire.b64("second offer"), wire.b64("cand-2")]
    wire.assert_silent(master)


def test_master_message_waits_for_the_viewer(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    master.send(wire.message("SDP_OFFER", "offer for later", recipient="late-viewer", correlation="x"))
    wire.sync(master)  # handled, and held: a failure would have answered "x" first
    late = sig.connect(arn, "late-viewer")
    assert wire.recv_json(late)["messagePayload"] == wire.b64("offer for later")
    other = sig.connect(arn, "other")
    master.send(wire.message("SDP_OFFER", "for other", recipient="other"))
    assert wire.recv_json(other)["messagePayload"] == wire.b64("for other")  # the held offer was not its


def test_held_messages_expire_after_the_channel_ttl(sig, wire):
    arn = sig.channel(ttl=5)
    viewer = sig.connect(arn, "v1")
    viewer.send(wire.message("SDP_OFFER", "stale offer"))
    wire.sync(viewer)  # held at the current time
    sig.advance_clock(6)
    master = sig.connect(arn)
    viewer.send(wire.message("ICE_CANDIDATE", "fresh"))
    assert wire.recv_json(master)["messagePayload"] == wire.b64("fresh")  # the offer was discarded


def test_held_messages_within_the_ttl_are_delivered(sig, wire):
    arn = sig.channel(ttl=5)
    viewer = sig.connect(arn, "v1")
    viewer.send(wire.message("SDP_OFFER", "still good"))
    wire.sync(viewer)  # held at the current time
    sig.advance_clock(4)
    master = sig.connect(arn)
    assert wire.recv_json(master)["messagePayload"] == wire.b64("still good")


def test_new_ttl_applies_to_messages_sent_after_the_update(sig, wire):
    arn = sig.channel(ttl=5)
    viewer = sig.connect(arn, "v1")
    viewer.send(wire.message("ICE_CANDIDATE", "old ttl"))
    wire.sync(viewer)  # held under the old TTL
    c = sig.kinesisvideo
    version = c.describe_signaling_channel(ChannelARN=arn)["ChannelInfo"]["Version"]
    c.update_signaling_channel(ChannelARN=arn, CurrentVersion=version,
                               SingleMasterConfiguration={"MessageTtlSeconds": 60})
    viewer.send(wire.message("ICE_CANDIDATE", "new ttl"))
    wire.sync(viewer)  # held under the new TTL
    sig.advance_clock(30)
    master = sig.connect(arn)
    assert wire.recv_json(master)["messagePayload"] == wire.b64("new ttl")
    wire.assert_silent(master)


# ------------------------------------------------------------------ GO_AWAY
def test_deleted_channel_gets_go_away(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    sig.kinesisvideo.delete_signaling_channel(ChannelARN=arn)
    master.send(wire.message("SDP_ANSWER", "x", recipient="v1"))
    assert wire.recv_json(master) == {"messageType": "GO_AWAY"}
    with pytest.raises(ConnectionClosed):
        master.recv(timeout=5)


def test_server_shutdown_sends_go_away(kvs, wire):
    from kvsmock.signaling import SignalingServer

    arn = kvs.kinesisvideo.create_signaling_channel(ChannelName="ch")["ChannelARN"]
    server = SignalingServer().start()
    try:
        ws = connect(f"{server.url}/?X-Amz-ChannelARN={arn}", open_timeout=10)
    finally:
        server.stop()
    with ws:
        assert wire.recv_json(ws) == {"messageType": "GO_AWAY"}
        with pytest.raises(ConnectionClosed) as e:
            ws.recv(timeout=5)
        assert e.value.rcvd is not None and e.value.rcvd.code == 1001
    # its address is no longer handed out
    wss = kvs.kinesisvideo.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"], "Role": "MASTER"}
    )["ResourceEndpointList"][0]["ResourceEndpoint"]
    assert wss.startswith("wss://m-")


def test_relayed_messages_are_metered(sig, wire):
    import requests

    import kvsmock

    arn = sig.channel()
    master = sig.connect(arn)
    viewer = sig.connect(arn, "viewer-1")
    viewer.send(wire.message("SDP_OFFER", {"type": "offer", "sdp": "v=0\r\n"}))
    wire.recv_json(master)
    master.send(wire.message("SDP_ANSWER", {"type": "answer"}, recipient="viewer-1"))
    wire.recv_json(viewer)
    viewer.send(wire.message("ICE_CANDIDATE", {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}))
    wire.recv_json(master)
    if sig.mode == "server":
        report = requests.get(f"{sig.kv.endpoint_url}/_kvsmock/usage", timeout=10).json()
    else:
        report = kvsmock.usage()
    channels = [c for c in report["Channels"] if c["ChannelARN"] == arn]
    assert [c["SignalingMessages"] for c in channels] == [3], report["Channels"]
    all_messages = sum(c["SignalingMessages"] for c in report["Channels"])
    # The published price (README, "Usage and cost"): $2.25 per million signaling messages.
    assert report["CostUSD"]["SignalingMessages"] == pytest.approx(all_messages / 1e6 * 2.25)
