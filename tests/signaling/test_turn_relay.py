"""kvsmock's TURN server driven by real TURN clients, with the credentials GetIceServerConfig hands out.

Two aioice ICE agents, restricted to relayed candidates, connect through
kvsmock's relay over UDP, TCP and TLS and exchange data; two aiortc peers
do the same with a data channel. aioice's TURN client also drives the
allocation's life directly: refused credentials, deletion, expiry on the
emulator clock, a deleted channel, the server stopping. Each test runs
in-process and against the ``kvsmock server`` where both make sense.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

import aioice
import pytest
import requests
from aioice import stun
from aioice.turn import TurnClientTcpProtocol, TurnClientUdpProtocol
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy

import kvsmock

#: The published us-east-1 WebRTC prices the README gives (US dollars).
TURN_PER_THOUSAND_MINUTES = 0.12
ACTIVE_CHANNEL_PER_MONTH = 0.03


def ice_servers(sig, arn: str, client_id: str = "viewer-1") -> list[dict[str, Any]]:
    return sig.rest(arn, "VIEWER").get_ice_server_config(ChannelARN=arn, ClientId=client_id)["IceServerList"]


def address(uri: str) -> tuple[str, int]:
    """Host and port of a ``turn:`` / ``turns:`` URI."""
    parsed = urlsplit("//" + uri.split(":", 1)[1].split("?", 1)[0])
    assert parsed.hostname and parsed.port
    return parsed.hostname, parsed.port


def usage(sig, arn: str) -> dict[str, Any]:
    report = requests.get(f"{sig.kv.endpoint_url}/_kvsmock/usage", timeout=10).json() if sig.mode == "server" \
        else kvsmock.usage()
    (channel,) = [c for c in report["Channels"] if c["ChannelARN"] == arn]
    return {**channel, "Cost": report["CostUSD"]}


# ---------------------------------------------------------------- aioice agents
async def relayed_pair(servers: list[dict[str, Any]], transport: str, tls=None) -> None:
    """Two relay-only ICE agents (one TURN credential set each) connect and exchange data both ways."""
    uri = {"udp": servers[0]["Uris"][0], "tcp": servers[0]["Uris"][0], "tls": servers[0]["Uris"][2]}[transport]
    agents = [
        aioice.Connection(
            ice_controlling=controlling,
            turn_server=address(uri),
            turn_username=server["Username"],
            turn_password=server["Password"],
            turn_transport="udp" if transport == "udp" else "tcp",
            turn_ssl=tls if transport == "tls" else False,
            transport_policy=aioice.TransportPolicy.RELAY,
        )
        for controlling, server in ((True, servers[0]), (False, servers[1]))
    ]
    a, b = agents
    try:
        await asyncio.wait_for(asyncio.gather(a.gather_candidates(), b.gather_candidates()), 5)
        for agent in agents:
            assert [c.type for c in agent.local_candidates] == ["relay"]
        for mine, theirs in ((a, b), (b, a)):
            for candidate in theirs.local_candidates:
                await mine.add_remote_candidate(candidate)
            await mine.add_remote_candidate(None)
            mine.remote_username, mine.remote_password = theirs.local_username, theirs.local_password
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 5)
        await a.send(b"ping through kvsmock")
        assert await asyncio.wait_for(b.recv(), 5) == b"ping through kvsmock"
        await b.send(b"pong")
        assert await asyncio.wait_for(a.recv(), 5) == b"pong"
    finally:
        # Closing deletes each allocation (Refresh with LIFETIME 0) and waits for the answer.
        await asyncio.gather(a.close(), b.close())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_two_relay_only_aioice_agents_connect_through_kvsmock(sig, transport):
    arn = sig.channel("turn")
    servers = ice_servers(sig, arn)
    asyncio.run(relayed_pair(servers, transport))
    # Both allocations were deleted when the agents closed, and billed: a minute each at least.
    assert usage(sig, arn)["TurnMinutes"] == 2


def test_turns_over_tls_shares_the_signaling_port(kvs_server):
    arn = kvs_server.kinesisvideo.create_signaling_channel(ChannelName="tls")["ChannelARN"]
    servers = kvs_server.signaling(arn).get_ice_server_config(ChannelARN=arn)["IceServerList"]
    tls_uri = servers[0]["Uris"][2]
    assert tls_uri.startswith("turns:") and tls_uri.endswith("?transport=tcp")
    assert address(tls_uri)[1] == urlsplit(kvs_server.signaling_url).port  # the WSS port itself
    asyncio.run(relayed_pair(servers, "tls", tls=kvs_server.ssl_context()))


# ------------------------------------------------------------- aioice TURN client
class TurnClient:
    """aioice's TURN client on one allocation, for tests that drive the allocation's life themselves."""

    def __init__(self, server: dict[str, Any], transport: str = "udp", password: str | None = None):
        self.server, self.transport_name = server, transport
        self.password = server["Password"] if password is None else password
        self.protocol: TurnClientUdpProtocol | TurnClientTcpProtocol | None = None
        self.transport: asyncio.BaseTransport | None = None

    async def allocate(self) -> tuple[str, int]:
        loop = asyncio.get_running_loop()
        addr = address(self.server["Uris"][0])
        make = TurnClientUdpProtocol if self.transport_name == "udp" else TurnClientTcpProtocol

        def factory():
            return make(addr, username=self.server["Username"], password=self.password, lifetime=600,
                        channel_refresh_time=500)

        if self.transport_name == "udp":
            self.transport, self.protocol = await loop.create_datagram_endpoint(factory, remote_addr=addr)
        else:
            self.transport, self.protocol = await loop.create_connection(factory, *addr)
        try:
            return await asyncio.wait_for(self.protocol.connect(), 5)
        except BaseException:
            self.close()
            raise

    async def refresh(self, lifetime: int) -> int:
        """A Refresh request; the LIFETIME granted (TransactionFailed carries the error)."""
        assert self.protocol is not None
        request = stun.Message(message_method=stun.Method.REFRESH, message_class=stun.Class.REQUEST)
        request.attributes["LIFETIME"] = lifetime
        response, _ = await asyncio.wait_for(self.protocol.request_with_retry(request), 5)
        return response.attributes["LIFETIME"]

    def close(self) -> None:
        if self.protocol is not None and self.protocol.refresh_task is not None:
            self.protocol.refresh_task.cancel()
        if self.transport is not None:
            self.transport.close()


def refused(server: dict[str, Any], **kw: Any) -> stun.TransactionFailed:
    async def attempt():
        client = TurnClient(server, **kw)
        with pytest.raises(stun.TransactionFailed) as failed:
            await client.allocate()
        return failed.value

    return asyncio.run(attempt())


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_wrong_password_is_refused_with_401(sig, transport):
    arn = sig.channel("bad-password")
    (server, _) = ice_servers(sig, arn)
    failed = refused(server, transport=transport, password="bm90IHRoZSBwYXNzd29yZA==")
    assert failed.response.error_code == 401
    assert failed.response.attributes["ERROR-CODE"] == (401, "Unauthorized")
    # The right one works, for the same username.
    async def good():
        client = TurnClient(server, transport=transport)
        try:
            return await client.allocate()
        finally:
            client.close()

    assert asyncio.run(good())[0] == address(server["Uris"][0])[0]


def test_an_expired_username_is_refused_with_401(sig):
    arn = sig.channel("expired")
    (server, _) = ice_servers(sig, arn)
    sig.advance_clock(301)  # the credentials' Ttl is 300 seconds
    assert refused(server).response.error_code == 401


def test_credentials_of_a_deleted_channel_are_refused(sig):
    arn = sig.channel("gone")
    (server, _) = ice_servers(sig, arn)
    sig.kinesisvideo.delete_signaling_channel(ChannelARN=arn)
    assert refused(server).response.error_code == 401


def test_allocation_life_refresh_delete_expiry_and_channel_deletion(sig):
    arn = sig.channel("life")
    (server, _) = ice_servers(sig, arn)

    async def scenario() -> None:
        # Refresh, then delete with LIFETIME 0: the allocation is gone (437 Allocation Mismatch after).
        client = TurnClient(server)
        try:
            await client.allocate()
            assert await client.refresh(1200) == 1200
            assert await client.refresh(0) == 0
            with pytest.raises(stun.TransactionFailed) as failed:
                await client.refresh(600)
            assert failed.value.response.error_code == 437
        finally:
            client.close()

        # Expiry on the emulator clock: 601 seconds later the allocation has expired (and the nonce gone
        # stale: aioice retries after 438 Stale Nonce, then gets 437).
        client = TurnClient(server)
        try:
            await client.allocate()
            sig.advance_clock(601)
            with pytest.raises(stun.TransactionFailed) as failed:
                await client.refresh(600)
            assert failed.value.response.error_code == 437
        finally:
            client.close()

    asyncio.run(scenario())
    # Two allocations: the first lasted under a minute, the second its 600 seconds (10 minutes).
    assert usage(sig, arn)["TurnMinutes"] == 11

    arn = sig.channel("deleted")
    (server, _) = ice_servers(sig, arn)

    async def deleted() -> None:
        client = TurnClient(server)
        try:
            await client.allocate()
            await asyncio.to_thread(sig.kinesisvideo.delete_signaling_channel, ChannelARN=arn)
            # The allocation is freed, and the channel's credentials no longer authenticate.
            with pytest.raises(stun.TransactionFailed) as failed:
                await client.refresh(600)
            assert failed.value.response.error_code == 401
        finally:
            client.close()

    asyncio.run(deleted())
    gone = usage(sig, arn)
    assert gone["Deleted"] and gone["TurnMinutes"] == 1  # billed on the deleted channel


def test_allocations_are_freed_when_the_server_stops(kvs):
    from kvsmock.signaling import SignalingServer

    arn = kvs.kinesisvideo.create_signaling_channel(ChannelName="stop")["ChannelARN"]
    with SignalingServer() as signaling:
        (server, _) = kvs.signaling(arn).get_ice_server_config(ChannelARN=arn)["IceServerList"]
        client = TurnClient(server, transport="tcp")
        loop = asyncio.new_event_loop()  # the client's connection outlives one asyncio.run: the server goes first
        try:
            relayed = loop.run_until_complete(client.allocate())
            (allocation,) = signaling.turn_allocations()
            assert allocation["Relayed"] == relayed and allocation["ChannelARN"] == arn
            signaling.stop()
            assert signaling.turn_allocations() == []
        finally:
            client.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()
    (channel,) = [c for c in kvsmock.usage()["Channels"] if c["ChannelARN"] == arn]
    assert channel["TurnMinutes"] == 1


# ------------------------------------------------------------------- aiortc peers
def test_two_relay_only_aiortc_peers_exchange_a_data_channel_message(sig):
    arn = sig.channel("aiortc")
    servers = ice_servers(sig, arn)

    def config(server: dict[str, Any]) -> RTCConfiguration:
        return RTCConfiguration(
            iceServers=[RTCIceServer(urls=server["Uris"], username=server["Username"], credential=server["Password"])],
            iceTransportPolicy=RTCIceTransportPolicy.RELAY,
        )

    async def scenario() -> str:
        offerer, answerer = RTCPeerConnection(config(servers[0])), RTCPeerConnection(config(servers[1]))
        got: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        try:
            channel = offerer.createDataChannel("kvsDataChannel")

            @answerer.on("datachannel")
            def on_datachannel(remote):
                @remote.on("message")
                def on_message(message):
                    if not got.done():
                        got.set_result(message)

            @channel.on("open")
            def on_open():
                channel.send("hello over TURN")

            await offerer.setLocalDescription(await offerer.createOffer())
            candidates = [line for line in offerer.localDescription.sdp.splitlines() if line.startswith("a=candidate:")]
            assert candidates and all(" typ relay " in line for line in candidates), candidates
            await answerer.setRemoteDescription(RTCSessionDescription(offerer.localDescription.sdp, "offer"))
            await answerer.setLocalDescription(await answerer.createAnswer())
            await offerer.setRemoteDescription(RTCSessionDescription(answerer.localDescription.sdp, "answer"))
            return await asyncio.wait_for(got, 8)
        finally:
            await asyncio.gather(offerer.close(), answerer.close())

    assert asyncio.run(scenario()) == "hello over TURN"
    assert usage(sig, arn)["TurnMinutes"] == 2


# ------------------------------------------------------------------------ usage
def test_usage_reports_turn_minutes_and_active_channel_months(sig):
    arn = sig.channel("billed")
    sig.connect(arn)  # a client connected: the channel is active this month
    servers = ice_servers(sig, arn)
    asyncio.run(relayed_pair(servers, "udp"))
    report = usage(sig, arn)
    assert report["ActiveSignalingChannelMonths"] == 1
    assert report["TurnMinutes"] == 2
    everything = requests.get(f"{sig.kv.endpoint_url}/_kvsmock/usage", timeout=10).json() if sig.mode == "server" \
        else kvsmock.usage()
    minutes = sum(c["TurnMinutes"] for c in everything["Channels"])
    months = sum(c["ActiveSignalingChannelMonths"] for c in everything["Channels"])
    assert report["Cost"]["TurnStreaming"] == pytest.approx(minutes / 1000 * TURN_PER_THOUSAND_MINUTES)
    assert report["Cost"]["ActiveSignalingChannels"] == pytest.approx(months * ACTIVE_CHANNEL_PER_MONTH)
    assert json.dumps(report)  # plain JSON


def test_turn_moves_to_a_port_free_for_udp_and_tcp_when_the_twin_is_taken(kvs):
    """The URIs name one port for all three transports, even when the signaling port's UDP twin is busy."""
    import socket

    from conftest_plugin import free_port
    from kvsmock.signaling import SignalingServer

    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("127.0.0.1", port))
        with SignalingServer("127.0.0.1", port) as signaling:
            assert signaling.port == port and signaling.ice_port not in (None, port)
            arn = kvs.kinesisvideo.create_signaling_channel(ChannelName="moved")["ChannelARN"]
            servers = kvs.signaling(arn).get_ice_server_config(ChannelARN=arn)["IceServerList"]
            assert {address(uri)[1] for uri in servers[0]["Uris"]} == {signaling.ice_port}
            for transport in ("udp", "tcp"):
                asyncio.run(relayed_pair(servers, transport))
