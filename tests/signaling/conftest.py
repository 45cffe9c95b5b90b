"""Fixtures for the WebRTC signaling tests: a channel, presigned WebSocket URLs and clients.

``sig`` runs a test twice: in-process (``kvs`` + ``kvs_signaling``) and
against the ``kvsmock server`` (``kvs_server``). Clients are the
``websockets`` sync client, speaking the service's JSON messages.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from kvsmock import clock


def is_connect_rate_refusal(err: InvalidStatus) -> bool:
    """The handshake was refused by the channel's connect rate (not by another rule)."""
    return err.response.status_code == 400 and b"Connecting to a signaling channel" in bytes(err.response.body or b"")


def b64(data: Any) -> str:
    raw = data if isinstance(data, bytes) else (data if isinstance(data, str) else json.dumps(data)).encode()
    return base64.b64encode(raw).decode()


def message(action: str, payload: Any = "hello", recipient: str | None = None, correlation: str | None = None,
            **extra: Any) -> str:
    out: dict[str, Any] = {"action": action, "messagePayload": b64(payload)}
    if recipient is not None:
        out["recipientClientId"] = recipient
    if correlation is not None:
        out["correlationId"] = correlation
    out.update(extra)
    return json.dumps(out)


def recv_json(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=timeout))


_SYNC_NUMBERS = itertools.count(1)


def sync(ws: ClientConnection, timeout: float = 5.0) -> None:
    """Return once the server has handled every message ``ws`` sent before this call.

    The server handles a connection's messages in order and answers a failed
    one that carries a correlationId with a STATUS_RESPONSE; so ``ws`` sends a
    message with an unknown action and waits for that answer. Whatever was
    sent before it has been handled (held, relayed or refused) by then. The
    answer must be the next thing ``ws`` receives: anything else fails the test.
    """
    marker = f"sync-{next(_SYNC_NUMBERS)}"
    ws.send(json.dumps({"action": "KVSMOCK_TEST_SYNC", "messagePayload": b64("sync"), "correlationId": marker}))
    got = recv_json(ws, timeout)
    assert got.get("messageType") == "STATUS_RESPONSE", f"expected the sync answer, got {got}"
    assert got["statusResponse"]["correlationId"] == marker, got


def assert_silent(ws: ClientConnection, timeout: float = 0.3) -> None:
    """Nothing arrives within ``timeout`` seconds."""
    with pytest.raises(TimeoutError):
        got = ws.recv(timeout=timeout)
        pytest.fail(f"unexpected message: {got}")


class Signaling:
    """One mode's view of kvsmock for a signaling test."""

    def __init__(self, kv: Any, mode: str):
        self.kv = kv
        self.mode = mode
        self._stack = contextlib.ExitStack()
        self._clock_moved = False

    @property
    def kinesisvideo(self):
        return self.kv.kinesisvideo

    def channel(self, name: str = "ch", ttl: int | None = None) -> str:
        kwargs: dict[str, Any] = {"ChannelName": name}
        if ttl is not None:
            kwargs["SingleMasterConfiguration"] = {"MessageTtlSeconds": ttl}
        return self.kinesisvideo.create_signaling_channel(**kwargs)["ChannelARN"]

    def url(self, arn: str, client_id: str | None = None) -> str:
        return self.kv.signaling_ws_url(arn, client_id)

    def connect(self, arn: str, client_id: str | None = None, url: str | None = None) -> ClientConnection:
        """Connect, waiting while the channel's connect rate (3 per second) refuses; other refusals raise."""
        url = url or self.url(arn, client_id)
        tls = self.kv.ssl_context() if url.startswith("wss://") else None
        deadline = time.monotonic() + 10
        while True:
            try:
                return self._stack.enter_context(connect(url, ssl=tls, open_timeout=10))
            except InvalidStatus as err:
                if not (is_connect_rate_refusal(err) and time.monotonic() < deadline):
                    raise
                time.sleep(0.05)

    def rest(self, arn: str, role: str = "MASTER"):
        """The kinesis-video-signaling client on the channel's HTTPS endpoint."""
        return self.kv.signaling(arn, role)

    def advance_clock(self, seconds: float) -> None:
        self._clock_moved = True
        if self.mode == "server":
            self.kv.advance_clock(seconds)
        else:
            clock.advance(seconds)

    def messages(self, arn: str) -> int:
        """The channel's billed signaling messages so far (the usage report)."""
        if self.mode == "server":
            import requests

            report = requests.get(f"{self.kv.endpoint_url}/_kvsmock/usage", timeout=10).json()
        else:
            import kvsmock

            report = kvsmock.usage()
        return sum(c["SignalingMessages"] for c in report["Channels"] if c["ChannelARN"] == arn)

    def wait_for_messages(self, arn: str, count: int, timeout: float = 10.0) -> None:
        """Wait until the channel has counted ``count`` billed messages (a held offer is counted when it arrives)."""
        deadline = time.monotonic() + timeout
        while self.messages(arn) < count:
            assert time.monotonic() < deadline, f"channel {arn} never counted {count} messages"
            time.sleep(0.02)

    def now(self) -> float:
        """The emulator's clock."""
        if self.mode == "server":
            import requests

            return requests.get(f"{self.kv.endpoint_url}/_kvsmock/clock", timeout=5).json()["now"]
        return clock.now()

    def close(self) -> None:
        self._stack.close()
        if self._clock_moved and self.mode == "in_process":
            clock.reset()


@pytest.fixture(params=["in_process", "server"])
def sig(request):
    """Signaling in both modes."""
    if request.param == "in_process":
        kv = request.getfixturevalue("kvs")
        request.getfixturevalue("kvs_signaling")
    else:
        kv = request.getfixturevalue("kvs_server")
    s = Signaling(kv, request.param)
    yield s
    s.close()


@pytest.fixture
def sig_local(kvs, kvs_signaling):
    """Signaling in-process only (for tests that look inside the service state)."""
    s = Signaling(kvs, "in_process")
    yield s
    s.close()


@pytest.fixture
def wire():
    """The message helpers, for tests (conftest modules are not importable under importlib mode)."""

    class Wire:
        pass

    w = Wire()
    w.b64, w.message, w.recv_json, w.assert_silent, w.sync = b64, message, recv_json, assert_silent, sync
    return w
