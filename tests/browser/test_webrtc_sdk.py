"""The KVS WebRTC JS SDK (browser bundle, default SigV4 signer) as master and viewer against the server.

The SDK only takes ``wss://`` endpoints, so the test makes Chromium trust
the CA behind the server's certificate the way a user would: an NSS database
in Chromium's HOME with the CA added by ``certutil``.
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


def test_sdk_master_sends_camera_video_to_sdk_viewer(tls_server, page_server, launch_browser, page_log):
    server, ca = tls_server
    https_url = "https://" + server.endpoint_url.split("://", 1)[1]
    kinesisvideo = server.client("kinesisvideo", endpoint_url=https_url, verify=str(ca))
    channel_arn = kinesisvideo.create_signaling_channel(ChannelName="browser-webrtc")["ChannelARN"]
    master_endpoints = _endpoints(kinesisvideo, channel_arn, "MASTER")
    viewer_endpoints = _endpoints(kinesisvideo, channel_arn, "VIEWER")
    for endpoints in (master_endpoints, viewer_endpoints):
        assert endpoints["WSS"].startswith("wss://"), endpoints
    signaling = server.client("kinesis-video-signaling", endpoint_url=master_endpoints["HTTPS"], verify=str(ca))
    ice_servers = [
        {"urls": s["Uris"], "username": s["Username"], "credential": s["Password"]}
        for s in signaling.get_ice_server_config(ChannelARN=channel_arn)["IceServerList"]
    ]
    common = {"channelARN": channel_arn, "region": REGION, "iceServers": ice_servers, **CREDENTIALS}

    browser = launch_browser(ca=ca)
    master = browser.new_context().new_page()
    viewer = browser.new_context(viewport={"width": 400, "height": 400}).new_page()
    logs = [page_log(master, "master"), page_log(viewer, "viewer")]

    def report() -> str:
        states = {}
        for name, page in (("master", master), ("viewer", viewer)):
            try:
                states[name] = page.evaluate("window.state")
            except Exception as exc:  # noqa: BLE001 - only for the failure message
                states[name] = repr(exc)
        logs_text = "\n".join(str(log) for log in logs)
        return f"{json.dumps(states, indent=1)}\n{logs_text}"

    def wait(page, expression: str, timeout_s: float) -> None:
        try:
            page.wait_for_function(
                f"({expression}) || window.state.errors.length > 0", timeout=timeout_s * 1000, polling=100
            )
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"{expression!r} not true within {timeout_s} s: {exc}\n{report()}")
        assert page.evaluate("window.state.errors") == [], report()

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
