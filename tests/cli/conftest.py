"""Running ``kvsmock``'s client subcommands as a user does: subprocesses against the ``kvs_server``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

KVSMOCK = [sys.executable, "-m", "kvsmock"]


def cli_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with no AWS configuration at all (no keys, no profile, no region)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KVSMOCK_"))}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    env.update(extra)
    return env


class Cli:
    """``kvsmock`` subcommands run against one server (its URL added as ``--endpoint-url``)."""

    def __init__(self, endpoint_url: str, tmp_path: Path):
        self.endpoint_url = endpoint_url
        self.tmp_path = tmp_path
        self.env = cli_env(tmp_path)

    def args(self, *args: str) -> list[str]:
        return [*KVSMOCK, *args, "--endpoint-url", self.endpoint_url]

    def run(self, *args: str, input: bytes | None = None, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        """Run ``kvsmock ARGS --endpoint-url URL``; stdout as bytes, stderr as text."""
        out = subprocess.run(self.args(*args), input=input, capture_output=True, env=self.env, cwd=self.tmp_path,
                             timeout=timeout, **kwargs)
        out.stderr = out.stderr.decode(errors="replace")
        assert "Traceback" not in out.stderr, out.stderr
        return out

    def ok(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Like :meth:`run`, asserting exit status 0."""
        out = self.run(*args, **kwargs)
        assert out.returncode == 0, f"exit {out.returncode}\nstdout:\n{out.stdout[:2000]!r}\nstderr:\n{out.stderr}"
        return out


@pytest.fixture
def cli(kvs_server, tmp_path) -> Cli:
    return Cli(kvs_server.endpoint_url, tmp_path)
