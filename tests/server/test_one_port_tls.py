"""HTTP and HTTPS on one port with a certificate from kvsmock's local CA; URLs keep the port the client used.

The C producer SDK signs requests with ``Host: 127.0.0.1`` (no port) and only
talks HTTPS; curl inside it refuses a certificate whose SANs don't name the
host. These tests speak to a default ``kvsmock server`` the same ways.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import subprocess
import sys

import boto3
import pytest
import requests
from cryptography import x509

from conftest_plugin import KvsServer

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}
#: A SigV4 header for the kinesisvideo service (kvsmock routes on it and does not check the signature).
AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/kinesisvideo/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)


@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("kvsmock-ca")


@pytest.fixture(scope="module")
def server(ca_dir):
    """A server started with no TLS option at all, its CA in a fresh directory."""
    previous = os.environ.get("KVSMOCK_CA_DIR")
    os.environ["KVSMOCK_CA_DIR"] = str(ca_dir)
    try:
        started = KvsServer()
    finally:
        if previous is None:
            del os.environ["KVSMOCK_CA_DIR"]
        else:
            os.environ["KVSMOCK_CA_DIR"] = previous
    yield started
    started.stop()


def https_url(server: KvsServer, host: str = "127.0.0.1") -> str:
    return f"https://{host}:{server.port}"


def post_without_port(server: KvsServer, path: str, body: dict, tls: bool) -> dict:
    """POST as the C producer SDK does: ``Host`` carries no port."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=server.ssl_context(), timeout=10)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
        payload = json.dumps(body).encode()
        for name, value in (
            ("Host", "127.0.0.1"),
            ("Authorization", AUTH),
            ("X-Amz-Date", "20261206T000000Z"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
        ):
            conn.putheader(name, value)
        conn.endheaders(payload)
        response = conn.getresponse()
        text = response.read()
        assert response.status == 200, text
        return json.loads(text)
    finally:
        conn.close()


def test_banner_names_the_ca_health_and_credentials(server, ca_dir):
    log = server.read_log()
    assert server.ca_file == str(ca_dir / "ca.pem")
    assert f"kvsmock health: http://127.0.0.1:{server.port}/_kvsmock/health" in log
    assert "AWS_ACCESS_KEY_ID=testing" in log and "AWS_SECRET_ACCESS_KEY=testing" in log
    assert f"also answers HTTPS on https://127.0.0.1:{server.port}" in log


def test_ca_path_command_prints_the_servers_ca(server, ca_dir):
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "ca-path"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "KVSMOCK_CA_DIR": str(ca_dir)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == server.ca_file


def test_http_and_https_answer_on_one_port(server):
    assert requests.get(f"{server.endpoint_url}/_kvsmock/health", timeout=10).json() == {"status": "ready"}
    for host in ("127.0.0.1", "localhost"):
        r = requests.get(f"{https_url(server, host)}/_kvsmock/health", verify=server.ca_file, timeout=10)
        assert r.json() == {"status": "ready"}
    with pytest.raises(requests.exceptions.SSLError):  # a client that does not trust the CA refuses it
        requests.get(f"{https_url(server)}/_kvsmock/health", timeout=10)


def test_certificate_names_loopback_and_chains_to_the_ca(server):
    pem = ssl.get_server_certificate(("127.0.0.1", server.port))
    leaf = x509.load_pem_x509_certificate(pem.encode())
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", "::1"}
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert "*" not in names.get_values_for_type(x509.DNSName)
    ca = x509.load_pem_x509_certificate(open(server.ca_file, "rb").read())
    assert leaf.issuer == ca.subject
    leaf.verify_directly_issued_by(ca)


def test_boto3_over_https_gets_https_data_endpoints(server):
    kv = boto3.client("kinesisvideo", endpoint_url=https_url(server), verify=server.ca_file, **CREDENTIALS)
    kv.create_stream(StreamName="secure", DataRetentionInHours=1)
    endpoint = kv.get_data_endpoint(StreamName="secure", APIName="PUT_MEDIA")["DataEndpoint"]
    assert endpoint == https_url(server)
    # and over plain HTTP on the same port, plain HTTP endpoints
    plain = boto3.client("kinesisvideo", endpoint_url=server.endpoint_url, **CREDENTIALS)
    assert plain.get_data_endpoint(StreamName="secure", APIName="GET_MEDIA")["DataEndpoint"] == server.endpoint_url
    s3 = boto3.client("s3", endpoint_url=https_url(server), verify=server.ca_file, **CREDENTIALS)
    s3.create_bucket(Bucket="tls-bucket")
    assert "tls-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https"])
def test_urls_keep_the_port_when_host_has_none(server, tls):
    scheme = "https" if tls else "http"
    name = f"no-port-{scheme}"
    kv = boto3.client("kinesisvideo", endpoint_url=server.endpoint_url, **CREDENTIALS)
    kv.create_stream(StreamName=name, DataRetentionInHours=1)
    arn = kv.create_signaling_channel(ChannelName=name)["ChannelARN"]

    endpoint = post_without_port(server, "/getDataEndpoint", {"StreamName": name, "APIName": "PUT_MEDIA"}, tls)
    assert endpoint["DataEndpoint"] == f"{scheme}://127.0.0.1:{server.port}"

    endpoints = post_without_port(
        server,
        "/getSignalingChannelEndpoint",
        {"ChannelARN": arn, "SingleMasterChannelEndpointConfiguration": {"Protocols": ["WSS", "HTTPS"], "Role": "MASTER"}},
        tls,
    )["ResourceEndpointList"]
    by_protocol = {e["Protocol"]: e["ResourceEndpoint"] for e in endpoints}
    assert by_protocol["HTTPS"] == f"{scheme}://127.0.0.1:{server.port}"
    assert by_protocol["WSS"] == server.signaling_url

    from kvsmock import put_media, sample_mkv

    put_media(name, media=sample_mkv(duration_s=2, fragment_s=1), endpoint_url=server.endpoint_url,
              session=boto3.Session(**CREDENTIALS))
    session = post_without_port(
        server, "/getHLSStreamingSessionURL", {"StreamName": name, "PlaybackMode": "LIVE"}, tls
    )
    assert session["HLSStreamingSessionURL"].startswith(f"{scheme}://127.0.0.1:{server.port}/")
    verify = server.ca_file if tls else True
    assert requests.get(session["HLSStreamingSessionURL"], verify=verify, timeout=10).text.startswith("#EXTM3U")


def test_aws_cli_trusts_the_ca_through_aws_ca_bundle(server):
    env = {
        **os.environ,
        "AWS_CA_BUNDLE": server.ca_file,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = [sys.executable, "-m", "awscli", "--endpoint-url", https_url(server)]
    out = subprocess.run(aws + ["kinesisvideo", "list-streams"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "StreamInfoList" in json.loads(out.stdout)


def test_tls_off_serves_plain_only(tmp_path, monkeypatch):
    monkeypatch.setenv("KVSMOCK_CA_DIR", str(tmp_path))
    plain = KvsServer(extra_args=["--tls", "off"])
    try:
        assert plain.ca_file is None
        assert not (tmp_path / "ca.pem").exists()
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://127.0.0.1:{plain.port}/_kvsmock/health", verify=False, timeout=10)
        assert plain.signaling_url.startswith("ws://")
        arn = plain.kinesisvideo.create_signaling_channel(ChannelName="plain")["ChannelARN"]
        wss = plain.kinesisvideo.get_signaling_channel_endpoint(
            ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS"], "Role": "MASTER"}
        )["ResourceEndpointList"][0]["ResourceEndpoint"]
        assert wss == plain.signaling_url
    finally:
        plain.stop()


def test_own_certificate_with_tls_cert_and_key(tmp_path):
    from cryptography.hazmat.primitives import serialization

    from kvsmock.server.certificates import load_or_create_ca

    own_ca = load_or_create_ca(tmp_path / "own-ca")
    cert_pem, key_pem = own_ca.issue(["127.0.0.1", "localhost"])
    (tmp_path / "cert.pem").write_bytes(cert_pem + own_ca.cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key_pem)
    own = KvsServer(extra_args=["--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem")])
    try:
        assert own.ca_file is None  # the banner names no kvsmock CA: the user trusts their own
        r = requests.get(f"https://127.0.0.1:{own.port}/_kvsmock/health", verify=str(own_ca.cert_path), timeout=10)
        assert r.json() == {"status": "ready"}
        assert requests.get(f"{own.endpoint_url}/_kvsmock/health", timeout=10).ok
    finally:
        own.stop()


def test_two_servers_making_the_ca_at_once_agree_on_one(tmp_path):
    env = {**os.environ, "KVSMOCK_CA_DIR": str(tmp_path)}
    runs = [
        subprocess.Popen([sys.executable, "-m", "kvsmock", "ca-path"], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    paths = {run.communicate(timeout=60)[0].strip() for run in runs}
    assert paths == {str(tmp_path / "ca.pem")}
    x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())


def test_a_silent_or_broken_client_does_not_block_the_port(server):
    import socket

    silent = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    broken = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        broken.sendall(b"\x16\x03\x01\x00\x05hello")  # a TLS record that is no ClientHello
        assert requests.get(f"{server.endpoint_url}/_kvsmock/health", timeout=10).ok
        assert requests.get(f"{https_url(server)}/_kvsmock/health", verify=server.ca_file, timeout=10).ok
    finally:
        silent.close()
        broken.close()
