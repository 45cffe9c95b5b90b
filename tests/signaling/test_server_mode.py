"""The signaling port of ``kvsmock server``: options, printed addresses, TLS, shutdown."""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys

import boto3
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from conftest_plugin import KvsServer, free_port
from kvsmock.signaling import presigned_url


CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def wss_endpoint(server: KvsServer, arn: str, role: str = "MASTER") -> str:
    return server.kinesisvideo.get_signaling_channel_endpoint(
        ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"], "Role": role}
    )["ResourceEndpointList"][0]["ResourceEndpoint"]


def test_help_lists_the_signaling_options():
    out = subprocess.run([sys.executable, "-m", "kvsmock", "server", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "--signaling-port" in out.stdout and "--signaling-public-url" in out.stdout


def test_server_prints_both_addresses(kvs_server):
    log = kvs_server.read_log()
    assert f"kvsmock server listening on http://127.0.0.1:{kvs_server.port}" in log
    assert f"kvsmock signaling listening on {kvs_server.signaling_url}" in log
    assert kvs_server.signaling_url.startswith("wss://127.0.0.1:")


def _two_free_ports() -> int:
    """A port p with p + 1 also free (as far as can be told)."""
    for _ in range(50):
        p = free_port()
        with socket.socket() as a, socket.socket() as b:
            try:
                a.bind(("127.0.0.1", p))
                b.bind(("127.0.0.1", p + 1))
            except OSError:
                continue
        return p
    pytest.skip("no two adjacent free ports")


def _first_lines_of_a_server_on(port: int) -> list[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "kvsmock", "server", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        return [process.stdout.readline().decode() for _ in range(3)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(15)
        process.stdout.close()


def test_default_signaling_port_is_the_http_port_plus_one():
    # Another test (or worker) may take port + 1 between the check and the server's bind;
    # the server then says so, and a fresh pair is tried.
    for _ in range(5):
        port = _two_free_ports()
        lines = _first_lines_of_a_server_on(port)
        if "is in use" not in lines[0]:
            break
    assert lines[0].strip() == f"kvsmock server listening on http://127.0.0.1:{port}"
    assert lines[2].strip() == f"kvsmock signaling listening on wss://127.0.0.1:{port + 1}"


def test_public_urls():
    signaling_port = free_port()
    server = KvsServer(extra_args=["--public-url", "http://kvs.example:9999", "--signaling-port", str(signaling_port)])
    try:
        arn = server.kinesisvideo.create_signaling_channel(ChannelName="ch")["ChannelARN"]
        # the public host, with the signaling port
        assert wss_endpoint(server, arn, "VIEWER") == f"wss://kvs.example:{signaling_port}"
        signaling = server.client("kinesis-video-signaling")  # the server itself, not the public name
        uris = signaling.get_ice_server_config(ChannelARN=arn)["IceServerList"][0]["Uris"]
        assert uris[0] == f"turn:kvs.example:{signaling_port}?transport=udp"
    finally:
        server.stop()
    server = KvsServer(extra_args=["--signaling-public-url", "wss://signaling.example/"])
    try:
        arn = server.kinesisvideo.create_signaling_channel(ChannelName="ch")["ChannelARN"]
        assert wss_endpoint(server, arn) == "wss://signaling.example"
        assert "kvsmock signaling endpoints point at wss://signaling.example" in server.read_log()
    finally:
        server.stop()


def test_signaling_port_in_use_fails_cleanly(kvs_server):
    busy = int(kvs_server.signaling_url.rsplit(":", 1)[1])
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--port", str(free_port()), "--signaling-port", str(busy)],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 1
    assert "signaling port" in out.stderr and "in use" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("bad", [["--signaling-port", "70000"], ["--signaling-port", "-1"]])
def test_bad_signaling_port_is_refused(bad):
    out = subprocess.run([sys.executable, "-m", "kvsmock", "server", *bad], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0 and "--signaling-port" in out.stderr


def test_same_port_twice_is_refused():
    port = str(free_port())
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--port", port, "--signaling-port", port],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0 and "differ" in out.stderr


def test_signaling_port_speaks_ws_and_wss_and_sigterm_sends_go_away(tmp_path, monkeypatch):
    monkeypatch.setenv("KVSMOCK_CA_DIR", str(tmp_path / "ca"))
    server = KvsServer()
    try:
        assert server.ca_file == str(tmp_path / "ca" / "ca.pem")
        arn = server.kinesisvideo.create_signaling_channel(ChannelName="secure")["ChannelARN"]
        endpoint = wss_endpoint(server, arn)
        assert endpoint == server.signaling_url and endpoint.startswith("wss://127.0.0.1:")
        credentials = boto3.Session(**CREDENTIALS).get_credentials()
        url = presigned_url(endpoint, arn, region_name="us-east-1", credentials=credentials)
        with pytest.raises(ssl.SSLCertVerificationError):  # a client that doesn't trust the CA refuses it
            connect(url, open_timeout=10)
        plain = "ws://" + url.split("://", 1)[1]
        with connect(url, ssl=server.ssl_context(), open_timeout=10) as ws, connect(
            presigned_url(plain, arn, "viewer-1", region_name="us-east-1", credentials=credentials), open_timeout=10
        ) as viewer:
            viewer.send(json.dumps({"action": "SDP_OFFER", "messagePayload": "b2ZmZXI="}))
            assert json.loads(ws.recv(timeout=10))["messageType"] == "SDP_OFFER"  # plain WS reached the WSS master
            server.process.send_signal(signal.SIGTERM)
            assert json.loads(ws.recv(timeout=10)) == {"messageType": "GO_AWAY"}
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=10)
        assert server.process.wait(15) == 0
        rest = server.read_log()
        assert "Traceback" not in rest and "stopped" in rest
    finally:
        server.stop()
