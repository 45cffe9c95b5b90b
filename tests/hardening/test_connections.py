"""Connections: idle or half-open clients hold no thread; the server keeps answering; past its bound it refuses."""

from __future__ import annotations

import socket
import threading

import pytest
import requests

from conftest_plugin import KvsServer


def _connect_many(port: int, count: int) -> list[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(count)]


def test_thousands_of_half_open_connections_leave_the_server_answering():
    server = KvsServer()
    try:
        health = f"{server.endpoint_url}/_kvsmock/health"
        idle = _connect_many(server.port, 3000)
        try:
            assert requests.get(health, timeout=5).ok  # while they hang open, holding no thread
            half = _connect_many(server.port, 500)
            for sock in half:
                sock.sendall(b"GET /_kvsmock/hea")  # started a request, never finished it
        finally:
            for sock in idle:
                sock.close()  # all at once
        assert requests.get(health, timeout=5).ok  # while the closes are being noticed
        for sock in half:
            sock.close()
        assert requests.get(health, timeout=5).ok
        kv = server.kinesisvideo
        kv.create_stream(StreamName="still-serving", DataRetentionInHours=1)
        assert kv.describe_stream(StreamName="still-serving")["StreamInfo"]["Status"] == "ACTIVE"
    finally:
        server.stop()


def test_connections_past_the_bound_are_refused_with_503(monkeypatch):
    from kvsmock.server import one_port
    from kvsmock.server.run import build_server

    monkeypatch.setattr(one_port, "MAX_ACTIVE_CONNECTIONS", 2)
    server = build_server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    busy: list[socket.socket] = []
    try:
        port = server.server_port
        for _ in range(2):  # two connections that started a request and hold their threads
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"GET /_kvsmock/health HTTP/1.1\r\nHost: x\r\n")
            busy.append(sock)
        for _ in range(200):  # the two threads may not have started yet: ask until they have
            refused = requests.get(f"http://127.0.0.1:{port}/_kvsmock/health", timeout=10)
            if refused.status_code != 200:
                break
        assert refused.status_code == 503
        assert refused.headers["x-amzn-ErrorType"] == "ServiceUnavailableException"
        assert "too many connections" in refused.json()["Message"]
        for sock in busy:
            sock.sendall(b"\r\n")  # finish those requests: their threads end
            assert sock.recv(1024).startswith(b"HTTP/1.1 200")
            sock.close()
        busy.clear()
        for _ in range(200):  # until the finished threads have given their places back
            ok = requests.get(f"http://127.0.0.1:{port}/_kvsmock/health", timeout=10)
            if ok.status_code != 503:
                break
        assert ok.json() == {"status": "ready"}
    finally:
        for sock in busy:
            sock.close()
        server.shutdown()
        server.server_close()
        server.app.close()
