"""kvsmock's pytest plugin (registered through the ``pytest11`` entry point).

Fixtures:

``kvs``
    kvsmock active in-process for the test (moto's ``mock_aws`` with kvsmock
    serving KVS), fresh state each test. Gives boto3 clients for every KVS
    service, data endpoints already resolved: ``kvs.kinesisvideo``,
    ``kvs.media(stream)``, ``kvs.archived_media(stream)``,
    ``kvs.signaling(channel_arn)``, ``kvs.webrtc_storage(channel_arn)``, and
    ``kvs.client(service)`` for any other service (S3, KMS, ...).

``kvs_stream``
    a fresh stream (in-process, inside ``kvs``) already holding a few
    seconds of sample H.264 video put with PutMedia: ``.name``, ``.arn``,
    ``.media`` (the MKV bytes uploaded), ``.acks`` (the ACK events).

Both ``kvs`` and ``kvs_server`` have ``.faults`` (``add(**rule)``,
``list()``, ``remove(id)``, ``clear()``: ``kvsmock.faults`` in-process,
``/_kvsmock/faults`` for the server; each test starts with none) and
``.requests(limit=None)``, the recent-request log.

``kvs_server``
    one ``kvsmock server`` process on a free loopback port for the whole
    session; each test that asks for it gets it with state reset. Has
    ``.endpoint_url``, ``.signaling_url`` (its WebSocket signaling
    endpoint), ``.client(service)``, the same ``media`` / ``archived_media``
    / ``signaling`` / ``webrtc_storage`` / ``signaling_ws_url`` helpers,
    ``.reset()`` and ``.advance_clock(seconds)``.

``kvs_signaling``
    the WebRTC signaling endpoint in-process, for a test that also uses
    ``kvs``: a :class:`kvsmock.signaling.SignalingServer` on a free loopback
    port (``.url``), stopped after the test. While it runs
    GetSignalingChannelEndpoint answers WSS with its ``ws://`` address, and
    ``kvs.signaling_ws_url(channel_arn, client_id=None)`` gives a presigned
    URL to open (with a ClientId: as that viewer, without: as the master).
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

import boto3
import pytest
import requests

DEFAULT_REGION = "us-east-1"
GET_MEDIA_IDLE_SECONDS = 1.0
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_MEDIA_APIS = {
    "kinesis-video-media": "GET_MEDIA",
    "kinesis-video-archived-media": "LIST_FRAGMENTS",
}


class _KvsClients:
    """boto3 clients for the KVS services, with data endpoints resolved."""

    endpoint_url: str | None = None

    def __init__(self, region_name: str = DEFAULT_REGION):
        self.region_name = region_name
        self._control = None

    def client(self, service: str, region_name: str | None = None, **kwargs: Any):
        kwargs.setdefault("region_name", region_name or self.region_name)
        if self.endpoint_url and "endpoint_url" not in kwargs:
            kwargs["endpoint_url"] = self.endpoint_url
        for key, value in _CREDENTIALS.items():
            kwargs.setdefault(key, value)
        return boto3.client(service, **kwargs)

    def session(self) -> boto3.Session:
        """A boto3 session with the fixture's test credentials and region."""
        return boto3.Session(region_name=self.region_name, **_CREDENTIALS)

    @property
    def kinesisvideo(self):
        """The control-plane client (made once per fixture)."""
        if self._control is None:
            self._control = self.client("kinesisvideo")
        return self._control

    def data_endpoint(self, stream_name: str, api_name: str) -> str:
        """GetDataEndpoint's answer, asked again while the service throttles it (5 calls a second per stream)."""
        return paced(self.kinesisvideo.get_data_endpoint, StreamName=stream_name, APIName=api_name)["DataEndpoint"]

    def media(self, stream_name: str):
        """A kinesis-video-media client on the stream's GET_MEDIA endpoint."""
        return self.client("kinesis-video-media", endpoint_url=self.data_endpoint(stream_name, "GET_MEDIA"))

    def archived_media(self, stream_name: str, api_name: str = "LIST_FRAGMENTS"):
        """A kinesis-video-archived-media client on the stream's data endpoint."""
        return self.client("kinesis-video-archived-media", endpoint_url=self.data_endpoint(stream_name, api_name))

    def _channel_endpoint(self, channel_arn: str, protocol: str, role: str = "MASTER") -> str:
        endpoints = self.kinesisvideo.get_signaling_channel_endpoint(
            ChannelARN=channel_arn,
            SingleMasterChannelEndpointConfiguration={"Protocols": [protocol], "Role": role},
        )["ResourceEndpointList"]
        return endpoints[0]["ResourceEndpoint"]

    def signaling(self, channel_arn: str, role: str = "MASTER"):
        return self.client("kinesis-video-signaling", endpoint_url=self._channel_endpoint(channel_arn, "HTTPS", role))

    def webrtc_storage(self, channel_arn: str):
        return self.client("kinesis-video-webrtc-storage", endpoint_url=self._channel_endpoint(channel_arn, "WEBRTC"))

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client SSLContext that trusts the server's certificate (None when nothing serves TLS)."""
        return None

    def signaling_ws_url(self, channel_arn: str, client_id: str | None = None) -> str:
        """A presigned WebSocket URL for the channel: as viewer ``client_id``, or as the master without one."""
        from kvsmock.signaling import presigned_url

        role = "VIEWER" if client_id is not None else "MASTER"
        endpoint = self._channel_endpoint(channel_arn, "WSS", role)
        return presigned_url(
            endpoint, channel_arn, client_id, region_name=self.region_name, credentials=self.session().get_credentials()
        )


class InProcessKvs(_KvsClients):
    """What the ``kvs`` fixture gives: kvsmock in-process, mock active."""

    @property
    def faults(self):
        """kvsmock's fault rules (``kvsmock.faults``): ``add(**rule)``, ``list()``, ``remove(id)``, ``clear()``."""
        import kvsmock

        return kvsmock.faults

    def requests(self, limit: int | None = None) -> list[dict]:
        """The recent-request log, newest first (``kvsmock.requests()``)."""
        import kvsmock

        return kvsmock.requests(limit)

    def advance_clock(self, seconds: float) -> float:
        """Move kvsmock's clock forward (for the rest of the test); returns the new time."""
        from kvsmock import clock

        clock.advance(seconds)
        return clock.now()


class ServerFaults:
    """The fault rules of a kvsmock server, through ``/_kvsmock/faults``: the same calls as ``kvsmock.faults``."""

    def __init__(self, endpoint_url: str):
        self._url = f"{endpoint_url}/_kvsmock/faults"

    def add(self, **rule: Any) -> str:
        """Add a rule; returns its id (ValueError with the server's message for a bad rule)."""
        r = requests.post(self._url, json=rule, timeout=10)
        if r.status_code == 400:
            raise ValueError(r.json()["Message"])
        r.raise_for_status()
        return r.json()["id"]

    def list(self) -> list[dict]:
        r = requests.get(self._url, timeout=10)
        r.raise_for_status()
        return r.json()["faults"]

    def remove(self, rule_id: str) -> None:
        r = requests.delete(f"{self._url}/{rule_id}", timeout=10)
        if r.status_code == 404:
            raise KeyError(rule_id)
        r.raise_for_status()

    def clear(self) -> None:
        requests.delete(self._url, timeout=10).raise_for_status()


class KvsServer(_KvsClients):
    """A ``kvsmock server`` subprocess on a loopback port."""

    def __init__(
        self,
        port: int | None = None,
        extra_args: list[str] | None = None,
        get_media_idle_timeout: float | None = GET_MEDIA_IDLE_SECONDS,
    ):
        """``get_media_idle_timeout``: passed as ``--get-media-idle-timeout`` (unless ``extra_args``
        names it); None leaves the server's default."""
        super().__init__()
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.signaling_url: str | None = None
        #: The local CA's certificate the server's HTTPS and WSS chain to (from its start banner).
        self.ca_file: str | None = None
        args = [sys.executable, "-m", "kvsmock", "server", "--port", str(self.port)]
        extra = list(extra_args or [])
        if "--signaling-port" not in extra:
            extra += ["--signaling-port", "0"]  # a free port: port + 1 may be another worker's
        if "--get-media-idle-timeout" not in extra and get_media_idle_timeout is not None:
            # A caught-up GetMedia ends this many seconds after it has caught up (no PutMedia open), so tests are quick.
            extra += ["--get-media-idle-timeout", str(get_media_idle_timeout)]
        args += extra
        # The server's log goes to a file: a pipe nobody drains would fill up and stall it.
        #: The server's fault rules (``add``, ``list``, ``remove``, ``clear``, as ``kvsmock.faults``).
        self.faults = ServerFaults(self.endpoint_url)
        self.log = tempfile.NamedTemporaryFile(prefix="kvsmock-server-", suffix=".log", delete=False)
        self.process = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kvsmock server exited early:\n{self.read_log()}")
            try:
                if requests.get(f"{self.endpoint_url}/_kvsmock/health", timeout=1).ok:
                    self.signaling_url = self._banner("kvsmock signaling listening on ")
                    self.ca_file = self._banner("kvsmock CA certificate: ")
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("kvsmock server did not become ready")

    def _banner(self, prefix: str) -> str | None:
        """The first word after ``prefix`` in the server's start banner (printed before it answers HTTP)."""
        for line in self.read_log().splitlines():
            if line.startswith(prefix):
                return line[len(prefix):].split()[0]
        return None

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client SSLContext trusting the server's local CA, for ``https://`` and ``wss://``."""
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None

    def read_log(self) -> str:
        with open(self.log.name, "rb") as f:
            return f.read().decode(errors="replace")

    def reset(self) -> None:
        """Reset the server: state, clock, fault rules and request log."""
        requests.post(f"{self.endpoint_url}/_kvsmock/reset", timeout=10).raise_for_status()

    def requests(self, limit: int | None = None) -> list[dict]:
        """The server's recent-request log, newest first (``GET /_kvsmock/requests``)."""
        params = {"limit": limit} if limit is not None else None
        r = requests.get(f"{self.endpoint_url}/_kvsmock/requests", params=params, timeout=10)
        r.raise_for_status()
        return r.json()["requests"]

    def advance_clock(self, seconds: float) -> float:
        r = requests.post(f"{self.endpoint_url}/_kvsmock/clock", json={"advance": seconds}, timeout=10)
        r.raise_for_status()
        return r.json()["now"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass


def paced(call, *args: Any, timeout: float = 10.0, **kwargs: Any):
    """``call(*args, **kwargs)``, made again while it fails with ClientLimitExceededException (the
    service's rate limits, which botocore does not retry), until ``timeout`` seconds have passed."""
    from kvsmock.client import call_through_throttling

    return call_through_throttling(call, *args, seconds=timeout, **kwargs)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def kvs(monkeypatch):
    """kvsmock active in-process for this test, with fresh state."""
    from kvsmock import mock_kinesisvideo

    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    import kvsmock
    from kvsmock import clock
    from kvsmock.service.request_log import request_log

    kvsmock.faults.clear()
    request_log.clear()
    with mock_kinesisvideo():
        try:
            yield InProcessKvs()
        finally:
            clock.reset()
            kvsmock.faults.clear()


@pytest.fixture
def kvs_signaling(kvs):
    """The WebRTC signaling endpoint in-process (WebSocket on a free loopback port) for this test."""
    from kvsmock.signaling import SignalingServer

    with SignalingServer("127.0.0.1", 0) as server:
        yield server


class SampleStream:
    """What ``kvs_stream`` gives: a stream and what was put into it."""

    def __init__(self, name: str, arn: str, media: bytes, acks: list[dict]):
        self.name, self.arn, self.media, self.acks = name, arn, media, acks


@functools.cache
def _sample_media() -> bytes:
    """The sample the ``kvs_stream`` fixture puts (made once per session: PyAV encoding takes a moment)."""
    from kvsmock import sample_mkv

    return sample_mkv(duration_s=6, fragment_s=2, start=0)  # RELATIVE


@pytest.fixture
def kvs_stream(kvs):
    """A fresh stream holding 6 seconds of sample video (three 2-second fragments)."""
    from kvsmock import put_media

    media = _sample_media()
    name = "kvsmock-sample-stream"
    arn = kvs.kinesisvideo.create_stream(StreamName=name, DataRetentionInHours=24, MediaType="video/h264")["StreamARN"]
    acks = put_media(name, media=media, region_name=kvs.region_name, timecode_type="RELATIVE")
    return SampleStream(name, arn, media, acks)


@pytest.fixture(scope="session")
def _kvs_server_process():
    server = KvsServer()
    yield server
    server.stop()


@pytest.fixture
def kvs_server(_kvs_server_process):
    """The session's kvsmock server, with its state reset for this test."""
    _kvs_server_process.reset()
    yield _kvs_server_process
    requests.post(f"{_kvs_server_process.endpoint_url}/_kvsmock/clock", json={"reset": True}, timeout=10)


__all__ = [
    "InProcessKvs",
    "KvsServer",
    "ServerFaults",
    "SampleStream",
    "free_port",
    "paced",
    "kvs",
    "kvs_server",
    "kvs_signaling",
    "kvs_stream",
]

# Keep AWS SDK calls in tests from reaching for real credentials files.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
