"""What the client subcommands say when something is wrong: one ``kvsmock:`` line, exit status 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from conftest_plugin import free_port
from kvsmock import sample_mkv

from .conftest import Cli

NOT_FOUND = "kvsmock: ResourceNotFoundException: The requested stream is not found or not active.\n"


@pytest.mark.parametrize(
    "args",
    [
        ("fragments", "--stream", "nope"),
        ("get-media", "--stream", "nope", "--output", "out.mkv"),
        ("put-media", "--stream", "nope", "cam.mkv"),
    ],
    ids=lambda args: args[0],
)
def test_unknown_stream(cli, tmp_path, args):
    (tmp_path / "cam.mkv").write_bytes(b"\x1a\x45\xdf\xa3")
    out = cli.run(*args)
    assert (out.returncode, out.stdout, out.stderr) == (1, b"", NOT_FOUND)


@pytest.mark.parametrize("args", [("streams",), ("put-media", "--stream", "cam", "-")], ids=lambda args: args[0])
def test_nothing_listening(tmp_path, args):
    url = f"http://127.0.0.1:{free_port()}"
    out = Cli(url, tmp_path).run(*args, input=b"")
    assert out.returncode == 1
    assert out.stderr == f"kvsmock: nothing answers at {url} (start one with 'kvsmock server')\n"


def test_error_ack_is_the_exit_status(cli):
    out = cli.run("put-media", "--stream", "junk", "--create", input=b"this is no MKV" * 100)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert events[-1]["EventType"] == "ERROR" and events[-1]["ErrorId"] == 4006
    assert out.returncode == 1
    assert out.stderr == "kvsmock: ERROR ACK 4006 INVALID_MKV_DATA at fragment timecode 0\n"


def test_usage_errors(cli, tmp_path):
    out = cli.run("put-media", "--stream", "cam", "missing.mkv")
    assert (out.returncode, out.stderr) == (1, "kvsmock: cannot read missing.mkv: No such file or directory\n")
    out = cli.run("get-media", "--stream", "cam", "--start", "yesterday")
    assert out.returncode == 1
    assert out.stderr == ("kvsmock: --start 'yesterday' is not EARLIEST, NOW, an ISO 8601 timestamp or epoch seconds\n")
    out = cli.run("fragments")  # argparse's own usage error
    assert out.returncode == 2 and "--stream" in out.stderr


def test_service_validation_errors_are_one_line(cli):
    out = cli.run("put-media", "--stream", "bad name!", "--create", input=b"")
    assert out.returncode == 1
    assert out.stderr.startswith("kvsmock: InvalidArgumentException: ") and out.stderr.count("\n") == 1


pty = pytest.importorskip("pty") if os.name == "posix" else None


def _terminal_output(fd: int, into: list[bytes]) -> threading.Thread:
    """Drain a pseudo-terminal's master side in a thread, until the other side is closed."""

    def drain() -> None:
        while True:
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the process closed the terminal
                return
            if not data:
                return
            into.append(data)

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    return thread


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_get_media_refuses_to_write_to_a_terminal(cli):
    master, slave = pty.openpty()
    try:
        out = subprocess.run(cli.args("get-media", "--stream", "cam"), stdout=slave, stderr=subprocess.PIPE,
                             env=cli.env, timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    assert out.returncode == 1
    assert out.stderr.decode() == (
        "kvsmock: get-media writes binary MKV: redirect stdout (> out.mkv, | player) or give --output FILE\n")


@pytest.mark.skipif(os.name != "posix", reason="needs a pseudo-terminal")
def test_put_media_shows_progress_on_a_terminal(cli):
    master, slave = pty.openpty()
    shown: list[bytes] = []
    drain = _terminal_output(master, shown)
    try:
        out = subprocess.run(cli.args("put-media", "--stream", "cam", "--create"),
                             input=sample_mkv(duration_s=4, fragment_s=2), stdout=subprocess.PIPE, stderr=slave,
                             env=cli.env, timeout=60)
    finally:
        os.close(slave)
        drain.join(timeout=10)
        os.close(master)
    assert out.returncode == 0
    assert len(out.stdout.splitlines()) == 6  # the ACKs stay on stdout, without progress mixed in
    text = b"".join(shown).decode()
    assert "cam: 0.0 MiB sent, 2 fragments persisted" in text
    assert text.endswith("\r\x1b[K")  # the line is cleared at the end


def test_https_with_the_servers_ca(kvs_server, tmp_path):
    """Against ``https://`` the upload (its own connection, read while it is written) trusts AWS_CA_BUNDLE."""
    if not kvs_server.ca_file:
        pytest.skip("the server serves no TLS")
    cli = Cli(kvs_server.endpoint_url.replace("http://", "https://"), tmp_path)
    cli.env["AWS_CA_BUNDLE"] = kvs_server.ca_file
    put = cli.ok("put-media", "--stream", "tls", "--create", input=sample_mkv(duration_s=4, fragment_s=2))
    assert [json.loads(line)["EventType"] for line in put.stdout.splitlines()].count("PERSISTED") == 2
    assert len(cli.ok("fragments", "--stream", "tls").stdout.splitlines()) == 3
    del cli.env["AWS_CA_BUNDLE"]
    out = cli.run("streams")
    assert out.returncode == 1 and out.stderr.startswith("kvsmock: ") and "certificate" in out.stderr


def test_no_command_is_a_usage_error(tmp_path):
    out = subprocess.run([sys.executable, "-m", "kvsmock"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "usage: kvsmock" in out.stderr
