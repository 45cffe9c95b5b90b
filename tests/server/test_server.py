"""The standalone server: control endpoints, moto's services and reset on the
same port, CORS, the AWS CLI, TLS, --public-url, signals and the command line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError

from conftest_plugin import KvsServer, free_port

REGION = "us-east-1"
ACCOUNT = "123456789012"
BIN = Path(sys.executable).parent
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": REGION}


def stop_with(process: subprocess.Popen, signum: int) -> int:
    """Send a signal and return the exit code."""
    process.send_signal(signum)
    try:
        return process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail(f"server did not stop on signal {signum}")


def cli_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
    )
    return env


# ------------------------------------------------------------ control endpoints
def test_health(kvs_server):
    r = requests.get(f"{kvs_server.endpoint_url}/_kvsmock/health", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ready"}
    assert requests.head(f"{kvs_server.endpoint_url}/_kvsmock/health", timeout=5).status_code == 200
    r = requests.get(f"{kvs_server.endpoint_url}/_kvsmock/nothing-here", timeout=5)
    assert r.status_code == 404
    r = requests.get(f"{kvs_server.endpoint_url}/_kvsmock/reset", timeout=5)
    assert r.status_code == 404  # reset is POST only


def test_kvsmock_reset_clears_state(kvs_server):
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="s")
    c.create_signaling_channel(ChannelName="ch")
    s3 = kvs_server.client("s3")
    s3.create_bucket(Bucket="kept-until-reset")
    kvs_server.advance_clock(1000)
    r = requests.post(f"{kvs_server.endpoint_url}/_kvsmock/reset", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "reset"}
    assert c.list_streams()["StreamInfoList"] == []
    assert c.list_signaling_channels()["ChannelInfoList"] == []
    assert s3.list_buckets()["Buckets"] == []
    assert requests.get(f"{kvs_server.endpoint_url}/_kvsmock/clock", timeout=5).json()["offset"] == 0
    # the name is free again
    c.create_stream(StreamName="s")


def test_moto_reset_path_clears_kvs_state(kvs_server):
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="s")
    c.create_signaling_channel(ChannelName="ch")
    r = requests.post(f"{kvs_server.endpoint_url}/moto-api/reset", timeout=10)
    assert r.status_code == 200
    assert c.list_streams()["StreamInfoList"] == []
    assert c.list_signaling_channels()["ChannelInfoList"] == []


# ----------------------------------------------------------------------- CORS
def test_cors_on_kvs_responses(kvs_server):
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="s")
    headers = c.list_streams()["ResponseMetadata"]["HTTPHeaders"]
    assert headers["access-control-allow-origin"] == "*"
    assert "x-amzn-RequestId" in headers["access-control-expose-headers"]
    assert "x-amzn-ErrorType" in headers["access-control-expose-headers"]
    # errors carry them too, and a browser origin is echoed
    r = requests.post(
        f"{kvs_server.endpoint_url}/describeStream",
        json={"StreamName": "missing"},
        headers={"Origin": "http://localhost:3000"},
        timeout=5,
    )
    assert r.status_code == 404
    assert r.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_cors_on_moto_service_responses(kvs_server):
    s3 = kvs_server.client("s3")
    s3.create_bucket(Bucket="cors-bucket")
    headers = s3.list_buckets()["ResponseMetadata"]["HTTPHeaders"]
    assert "access-control-allow-origin" in headers
    sns = kvs_server.client("sns")
    headers = sns.list_topics()["ResponseMetadata"]["HTTPHeaders"]
    assert headers["access-control-allow-origin"] == "*"


def test_cors_preflight(kvs_server):
    r = requests.options(
        f"{kvs_server.endpoint_url}/getHLSStreamingSessionURL",
        headers={
            "Origin": "https://player.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type, x-amz-date",
        },
        timeout=5,
    )
    assert r.status_code == 200
    assert r.headers["Access-Control-Allow-Origin"] == "https://player.example"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert r.headers["Access-Control-Allow-Headers"] == "authorization, content-type, x-amz-date"
    assert int(r.headers["Access-Control-Max-Age"]) > 0
    r = requests.options(f"{kvs_server.endpoint_url}/some-bucket/key", timeout=5)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "*"


# -------------------------------------------------- moto services on the same port
def test_s3_and_sns_beside_kvs(kvs_server):
    s3 = kvs_server.client("s3")
    s3.create_bucket(Bucket="frames")
    s3.put_object(Bucket="frames", Key="a/b.jpg", Body=b"\xff\xd8jpeg")
    assert s3.get_object(Bucket="frames", Key="a/b.jpg")["Body"].read() == b"\xff\xd8jpeg"
    sns = kvs_server.client("sns")
    topic = sns.create_topic(Name="kvs-events")["TopicArn"]
    assert topic == f"arn:aws:sns:{REGION}:{ACCOUNT}:kvs-events"
    c = kvs_server.kinesisvideo
    c.create_stream(StreamName="cam", DataRetentionInHours=1)
    c.update_notification_configuration(
        StreamName="cam", NotificationConfiguration={"Status": "ENABLED", "DestinationConfig": {"Uri": topic}}
    )
    c.update_image_generation_configuration(
        StreamName="cam",
        ImageGenerationConfiguration={
            "Status": "ENABLED",
            "ImageSelectorType": "SERVER_TIMESTAMP",
            "DestinationConfig": {"Uri": "s3://frames/a", "DestinationRegion": REGION},
            "SamplingInterval": 1000,
            "Format": "PNG",
        },
    )
    assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [topic]
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["frames"]
    # KVS requests do not leak into moto's own (stub) kinesisvideo, and vice versa
    assert [s["StreamName"] for s in c.list_streams()["StreamInfoList"]] == ["cam"]


def test_unsigned_kvs_request(kvs_server):
    r = requests.post(f"{kvs_server.endpoint_url}/createStream", json={"StreamName": "unsigned"}, timeout=5)
    assert r.status_code == 200
    assert r.json()["StreamARN"].startswith(f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/unsigned/")


def test_moto_account_header(kvs_server):
    r = requests.post(
        f"{kvs_server.endpoint_url}/createStream",
        json={"StreamName": "other-account"},
        headers={"x-moto-account-id": "111122223333"},
        timeout=5,
    )
    assert r.status_code == 200
    assert ":111122223333:stream/other-account/" in r.json()["StreamARN"]
    assert kvs_server.kinesisvideo.list_streams()["StreamInfoList"] == []


# ----------------------------------------------------------------------- AWS CLI
def test_aws_cli(kvs_server, tmp_path):
    env = cli_env(tmp_path)
    aws = [str(BIN / "aws"), "--endpoint-url", kvs_server.endpoint_url, "--region", REGION, "--output", "json"]
    created = subprocess.run(
        aws + ["kinesisvideo", "create-stream", "--stream-name", "from-cli", "--data-retention-in-hours", "2"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert created.returncode == 0, created.stderr
    arn = json.loads(created.stdout)["StreamARN"]
    assert arn.startswith(f"arn:aws:kinesisvideo:{REGION}:{ACCOUNT}:stream/from-cli/")

    listed = subprocess.run(aws + ["kinesisvideo", "list-streams"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    [info] = json.loads(listed.stdout)["StreamInfoList"]
    assert info["StreamName"] == "from-cli" and info["DataRetentionInHours"] == 2 and info["StreamARN"] == arn

    missing = subprocess.run(
        aws + ["kinesisvideo", "describe-stream", "--stream-name", "nope"],
        env=env, capture_output=True, text=True, timeout=60,
    )
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert kvs_server.kinesisvideo.describe_stream(StreamName="from-cli")["StreamInfo"]["StreamARN"] == arn


# ---------------------------------------------- own servers: TLS, public URL, signals
def test_sigint_stops_cleanly():
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "kvsmock", "server", "--port", str(port), "--signaling-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        banner = b""
        while b"kvsmock credentials:" not in banner:  # the banner's last line: it is listening
            line = process.stdout.readline()
            assert line, banner.decode(errors="replace")  # it exited before it was ready
            banner += line
        assert requests.get(f"{url}/_kvsmock/health", timeout=10).ok
        code = stop_with(process, signal.SIGINT)
        out = banner.decode(errors="replace") + process.stdout.read().decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
    assert code == 0, out
    assert f"listening on {url}" in out
    assert "Traceback" not in out


def test_public_url_and_sigterm():
    server = KvsServer(extra_args=["--public-url", "http://kvs.example:9999/"])
    try:
        c = server.kinesisvideo
        c.create_stream(StreamName="cam")
        for api in ("PUT_MEDIA", "GET_MEDIA", "GET_HLS_STREAMING_SESSION_URL", "GET_CLIP"):
            assert c.get_data_endpoint(StreamName="cam", APIName=api)["DataEndpoint"] == "http://kvs.example:9999"
        arn = c.create_signaling_channel(ChannelName="ch")["ChannelARN"]
        got = c.get_signaling_channel_endpoint(
            ChannelARN=arn, SingleMasterChannelEndpointConfiguration={"Protocols": ["WSS", "HTTPS"], "Role": "VIEWER"}
        )["ResourceEndpointList"]
        signaling_port = server.signaling_url.rsplit(":", 1)[1]
        assert {e["Protocol"]: e["ResourceEndpoint"] for e in got} == {
            "WSS": f"wss://kvs.example:{signaling_port}",  # the public host, with the signaling port (TLS by default)
            "HTTPS": "http://kvs.example:9999",
        }
        code = stop_with(server.process, signal.SIGTERM)
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.endpoint_url}/_kvsmock/health", timeout=2)
        out = server.read_log()
    finally:
        server.stop()
    assert code == 0, out
    assert "kvs.example:9999" in out
    assert "stopped" in out and "Traceback" not in out
    # at the default log level the server does not log every request
    assert "POST /createStream" not in out and "/getDataEndpoint" not in out


def test_port_in_use_fails_cleanly(kvs_server):
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--port", str(kvs_server.port)],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0
    assert "in use" in out.stderr and "Traceback" not in out.stderr
    assert requests.get(f"{kvs_server.endpoint_url}/_kvsmock/health", timeout=5).ok


# ------------------------------------------------------------------ command line
def test_module_help():
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--help"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    for option in ("--host", "--port", "--public-url", "--tls", "--tls-cert", "--tls-key", "--log-level"):
        assert option in out.stdout


def test_console_script():
    script = BIN / "kvsmock"
    assert script.is_file() and os.access(script, os.X_OK)
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "server" in out.stdout
    out = subprocess.run([str(script)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "usage" in out.stderr.lower()


def test_tls_cert_without_key_is_refused(tmp_path):
    cert = tmp_path / "cert.pem"
    cert.write_text("not really")
    out = subprocess.run(
        [sys.executable, "-m", "kvsmock", "server", "--port", str(free_port()), "--tls-cert", str(cert)],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode != 0
    assert "--tls-key" in out.stderr
