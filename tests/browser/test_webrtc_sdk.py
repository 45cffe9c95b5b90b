"""The KVS WebRTC JS SDK (browser bundle, default SigV4 signer) as master and viewer against the server.

The SDK only takes ``wss://`` endpoints, so the test makes Chromium trust
the CA behind the server's certificate the way a user would: an NSS database
in Chromium's HOME with the CA added by ``certutil``.

The relay-only runs set ``iceTransportPolicy: "relay"`` on both peers, as the
SDK's examples do for "TURN only" (``forceTURN``): the only candidates are
TURN relay candidates from the ICE servers GetIceServerConfig hands out, so
the video crosses kvsmock's TURN server (over UDP, TCP or TLS) or does not
arrive. GetIceServerConfig is called here with boto3 on each role's HTTPS
endpoint: the JS SDK has no client for it (its examples use the AWS SDK for
JavaScript's ``KinesisVideoSignalingChannels``, which is not among the
pinned browser packages), and its answer is turned into RTCIceServers as
those examples do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REGION = "us-east-1"
CREDENTIALS = {"accessKeyId": "testing", "secretAccessKey": "testing"}
SCREENSHOT = Path("/tmp/kvsmock-browser-webrtc-viewer.png")


def _endpoints(kinesisvideo, channel_arn: str, role: str) -> dict[str, str]:
    listed = kinesisvideo.get_signaling_channel_endpoint(
        ChannelARN=channel_arn,
        SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": role},
    )["ResourceEndpointList"]
    return {e["Protocol"]: e["ResourceEndpoint"] for e in listed}


def _ice_servers(server, ca: Path, https_endpoint: str, channel_arn: str) -> list[dict]:
    """GetIceServerConfig on a role's HTTPS endpoint, as RTCIceServer dicts (what the SDK's examples build)."""
    signaling = server.client("kinesis-video-signaling", endpoint_url=https_endpoint, verify=str(ca))
    return [
        {"urls": s["Uris"], "username": s["Username"], "credential": s["Password"]}
        for s in signaling.get_ice_server_config(ChannelARN=channel_arn)["IceServerList"]
    ]


class _Pages:
    """The master and viewer pages of one test, with their state and logs for failure messages."""

    def __init__(self, page_log, **pages):
        self.pages = pages
        self.logs = [page_log(page, name) for name, page in pages.items()]

    def report(self) -> str:
        states = {}
        for name, page in self.pages.items():
            try:
                states[name] = page.evaluate("window.state")
            except Exception as exc:  # noqa: BLE001 - only for the failure message
                states[name] = repr(exc)
        logs_text = "\n".join(str(log) for log in self.logs)
        return f"{json.dumps(states, indent=1)}\n{logs_text}"

    def wait(self, page, expression: str, timeout_s: float) -> None:
        """Waits for ``expression`` in ``page`` (polled every 100 ms); fails at once on a recorded page error."""
        try:
            page.wait_for_function(
                f"({expression}) || window.state.errors.length > 0", timeout=timeout_s * 1000, polling=100
            )
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{expression!r} not true within {timeout_s} s: {exc}\n{self.report()}")
        assert page.evaluate("window.state.errors") == [], self.report()


def test_sdk_master_sends_camera_video_to_sdk_viewer(tls_server, page_server, launch_browser, page_log):
    server, ca = tls_server
    https_url = "https://" + server.endpoint_url.split("://", 1)[1]
    kinesisvideo = server.client("kinesisvideo", endpoint_url=https_url, verify=str(ca))
    channel_arn = kinesisvideo.create_signaling_channel(ChannelName="browser-webrtc")["ChannelARN"]
    master_endpoints = _endpoints(kinesisvideo, channel_arn, "MASTER")
    viewer_endpoints = _endpoints(kinesisvideo, channel_arn, "VIEWER")
    for endpoints in (master_endpoints, viewer_endpoints):
        assert endpoints["WSS"].startswith("wss://"), endpoints
    ice_servers = _ice_servers(server, ca, master_endpoints["HTTPS"], channel_arn)
    common = {"channelARN": channel_arn, "region": REGION, "iceServers": ice_servers, **CREDENTIALS}

    browser = launch_browser(ca=ca)
    master = browser.new_context().new_page()
    viewer = browser.new_context(viewport={"width": 400, "height": 400}).new_page()
    pages = _Pages(page_log, master=master, viewer=viewer)
    report, wait = pages.report, pages.wait

    master.goto(f"{page_server}/pages/webrtc.html")
    master.evaluate("config => startMaster(config)", {**common, "channelEndpoint": master_endpoints["WSS"]})
    wait(master, "window.state.open === true", 15)  # the SDK's wss:// connection, signed by its own signer

    viewer.goto(f"{page_server}/pages/webrtc.html")
    viewer.evaluate(
        "config => startViewer(config)",
        {**common, "channelEndpoint": viewer_endpoints["WSS"], "clientId": "browser-viewer-1"},
    )
    # Decoded frames on the viewer: the master's fake camera crossed signaling, ICE and DTLS.
    wait(viewer, "window.state.framesDecoded > 25", 30)
    state = viewer.evaluate("window.state")
    assert state["connectionState"] == "connected", report()
    assert state["frameWidth"] and state["frameHeight"], report()
    assert master.evaluate("window.state.errors") == [], report()
    assert master.evaluate("window.state.framesSent") > 0, report()
    wait(viewer, "document.getElementById('video').readyState >= 2", 10)
    viewer.screenshot(path=str(SCREENSHOT))


def _only(ice_servers: list[dict], transport: str) -> list[dict]:
    """The ICE servers with one TURN URI each: the one that reaches the TURN server over ``transport``.

    ``udp`` is GetIceServerConfig's ``turn:…?transport=udp`` and ``tls`` its
    ``turns:…?transport=tcp``. ``tcp`` is plain ``turn:…?transport=tcp`` on
    that same host and port, which the service does not hand out but kvsmock
    serves (and browsers speak) beside ``turns:``.
    """
    scheme, query = {"udp": ("turn:", "?transport=udp"), "tcp": ("turns:", "?transport=tcp"),
                     "tls": ("turns:", "?transport=tcp")}[transport]
    servers = []
    for ice_server in ice_servers:
        uris = [u for u in ice_server["urls"] if u.startswith(scheme) and u.endswith(query)]
        if transport == "tcp":
            uris = ["turn:" + u[len("turns:"):] for u in uris]
        if uris:
            servers.append({**ice_server, "urls": uris})
    assert servers, f"no {scheme}…{query} URI in GetIceServerConfig's {ice_servers}"
    return servers


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_sdk_peers_relay_only_through_kvsmock_turn(transport, tls_server, page_server, launch_browser, page_log):
    server, ca = tls_server
    https_url = "https://" + server.endpoint_url.split("://", 1)[1]
    kinesisvideo = server.client("kinesisvideo", endpoint_url=https_url, verify=str(ca))
    channel_arn = kinesisvideo.create_signaling_channel(ChannelName=f"browser-webrtc-relay-{transport}")["ChannelARN"]
    master_endpoints = _endpoints(kinesisvideo, channel_arn, "MASTER")
    viewer_endpoints = _endpoints(kinesisvideo, channel_arn, "VIEWER")
    viewer_id = f"browser-viewer-relay-{transport}"
    # Each peer asks GetIceServerConfig on its own role's HTTPS endpoint, as the SDK's examples do.
    common = {"channelARN": channel_arn, "region": REGION, "iceTransportPolicy": "relay", **CREDENTIALS}
    master_config = {
        **common, "channelEndpoint": master_endpoints["WSS"],
        "iceServers": _only(_ice_servers(server, ca, master_endpoints["HTTPS"], channel_arn), transport),
    }
    viewer_config = {
        **common, "channelEndpoint": viewer_endpoints["WSS"], "clientId": viewer_id,
        "iceServers": _only(_ice_servers(server, ca, viewer_endpoints["HTTPS"], channel_arn), transport),
    }

    browser = launch_browser(ca=ca)  # the CA also makes turns:'s TLS handshake trusted
    master = browser.new_context().new_page()
    viewer = browser.new_context(viewport={"width": 400, "height": 400}).new_page()
    pages = _Pages(page_log, master=master, viewer=viewer)
    report, wait = pages.report, pages.wait

    master.goto(f"{page_server}/pages/webrtc.html")
    master.evaluate("config => startMaster(config)", master_config)
    wait(master, "window.state.open === true", 15)
    viewer.goto(f"{page_server}/pages/webrtc.html")
    viewer.evaluate("config => startViewer(config)", viewer_config)

    wait(viewer, "window.state.framesDecoded > 25", 30)
    relay = "window.state.selected && window.state.selected.local && window.state.selected.remote"
    wait(viewer, relay, 10)
    wait(master, relay, 10)
    viewer_state, master_state = viewer.evaluate("window.state"), master.evaluate("window.state")
    assert viewer_state["connectionState"] == "connected", report()
    assert viewer_state["frameWidth"] and viewer_state["frameHeight"], report()
    assert master_state["framesSent"] > 0, report()
    # Only relay candidates were gathered, and the pair carrying the media is relay on both sides, each
    # reaching kvsmock's TURN server over the transport its only URI names.
    for name, state, config in (("viewer", viewer_state, viewer_config), ("master", master_state, master_config)):
        assert state["gathered"], report()
        assert {c["type"] for c in state["gathered"]} == {"relay"}, report()
        # The transport's selected pair. Its state may read "in-progress" while a consent check is out.
        selected = state["selected"]
        assert selected["source"] == "transport" and selected["nominated"], f"{name}: {selected}\n{report()}"
        assert selected["local"]["candidateType"] == "relay", f"{name}: {selected}\n{report()}"
        assert selected["local"]["relayProtocol"] == transport, f"{name}: {selected}\n{report()}"
        assert selected["local"]["address"] == "127.0.0.1", f"{name}: {selected}\n{report()}"
        uris = {uri for ice_server in config["iceServers"] for uri in ice_server["urls"]}
        assert selected["local"]["url"] in uris, f"{name}: {selected} not allocated by {uris}\n{report()}"
    # The video went over that pair: master to viewer.
    assert master_state["selected"]["bytesSent"] > 10_000, report()
    assert viewer_state["selected"]["bytesReceived"] > 10_000, report()
    # Each side's remote candidate is the other's relayed address (or the same seen as peer-reflexive,
    # when a check arrives before the candidate's signaling message does).
    assert viewer_state["selected"]["remote"]["candidateType"] in {"relay", "prflx"}, report()
    assert viewer_state["selected"]["remote"]["port"] == master_state["selected"]["local"]["port"], report()
    assert master_state["selected"]["remote"]["port"] == viewer_state["selected"]["local"]["port"], report()
