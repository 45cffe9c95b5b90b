"""The service's rules for signaling connections that take time: one hour at most, 10 minutes idle,
three connects a second per channel, and RECONNECT_ICE_SERVER when the channel's TURN credentials expire."""

from __future__ import annotations

import pytest
from websockets.exceptions import ConnectionClosed

from kvsmock.errors import ClientLimitExceededException
from kvsmock.service.signaling.hub import SignalingHub
from kvsmock.service.signaling.peers import VIEWER


def ends_with_go_away(ws, wire) -> None:
    """The next event is GO_AWAY, then the server closes the connection (the sweep runs every second)."""
    assert wire.recv_json(ws, timeout=10) == {"messageType": "GO_AWAY"}
    with pytest.raises(ConnectionClosed):
        ws.recv(timeout=10)


def test_a_connection_ends_after_an_hour(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    sig.advance_clock(3601)
    ends_with_go_away(master, wire)


def test_a_connection_ends_after_10_quiet_minutes_and_a_message_restarts_the_count(sig, wire):
    arn = sig.channel()
    viewer = sig.connect(arn, "v1")
    sig.advance_clock(500)
    viewer.send(wire.message("SDP_OFFER", {"type": "offer", "sdp": "v=0"}))  # held for the absent master
    wire.sync(viewer)
    sig.advance_clock(200)  # 700 s connected, 200 s since it last spoke
    wire.assert_silent(viewer, timeout=1.5)  # a sweep has run in that time
    sig.advance_clock(401)
    ends_with_go_away(viewer, wire)


def test_reconnect_ice_server_when_the_channels_turn_credentials_expire(sig, wire):
    arn = sig.channel()
    master = sig.connect(arn)
    servers = sig.rest(arn).get_ice_server_config(ChannelARN=arn)["IceServerList"]
    sig.advance_clock(servers[0]["Ttl"] + 1)
    assert wire.recv_json(master, timeout=10) == {"messageType": "RECONNECT_ICE_SERVER"}
    wire.assert_silent(master, timeout=1.5)  # once per expiry, not every sweep


def test_three_connects_a_second_per_channel(kvs):
    """The hub's rule, checked where it lives (through a socket the timing would depend on the machine)."""
    channel = kvs.kinesisvideo.create_signaling_channel(ChannelName="busy")["ChannelARN"]
    from kvsmock.api.moto_glue import backend_for

    backend = backend_for("123456789012", "us-east-1")
    found = backend.find_channel({"ChannelARN": channel})
    hub = SignalingHub()
    for i in range(3):
        hub.check_connect(found, VIEWER, f"v{i}")
    with pytest.raises(ClientLimitExceededException, match="3 calls per second"):
        hub.check_connect(found, VIEWER, "v3")
