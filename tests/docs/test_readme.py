"""The README's examples run as written.

Every ``python`` block runs in a fresh interpreter with only the
environment the README tells a user to set (its ``export`` line); the
``test_*`` functions a block defines are then called, as pytest would.
Blocks that name the server (``127.0.0.1:4567``) and every ``bash`` block
but the set-up commands run against a ``kvs_server`` at that address's
place.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
DOC_SERVER = "127.0.0.1:4567"
_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
_RUN_TESTS = """

for _name, _value in list(globals().items()):
    if _name.startswith("test_") and callable(_value):
        _value()
"""


def blocks(language: str) -> list[tuple[int, str]]:
    """(line number, code) of each block fenced with ``language``."""
    text = README.read_text()
    return [
        (text.count("\n", 0, m.start()) + 1, m.group(2))
        for m in _BLOCK.finditer(text)
        if m.group(1) == language
    ]


def readme_environment() -> dict[str, str]:
    """The environment a user has after the README's ``export`` of credentials and region."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KVSMOCK_"))}
    exports = [code for _, code in blocks("bash") if code.startswith("export AWS_")]
    assert exports, "the README tells the user which credentials to set"
    for word in shlex.split(exports[0])[1:]:
        key, value = word.split("=", 1)
        env[key] = value
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def is_setup(code: str) -> bool:
    """The opening set-up commands (CI runs them itself) and the credentials line."""
    return "pip install" in code or code.startswith("export AWS_")


PYTHON_BLOCKS = blocks("python")
BASH_BLOCKS = [(line, code) for line, code in blocks("bash") if not is_setup(code)]


def run(args: list[str], tmp_path: Path, timeout: float = 180) -> str:
    out = subprocess.run(args, env=readme_environment(), cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"stdout:\n{out.stdout}\nstderr:\n{out.stderr}"
    return out.stdout


def test_readme_has_examples():
    assert len(PYTHON_BLOCKS) >= 3 and BASH_BLOCKS


@pytest.mark.parametrize("line,code", PYTHON_BLOCKS, ids=[f"line-{line}" for line, _ in PYTHON_BLOCKS])
def test_python_block_runs(line, code, tmp_path, request):
    if DOC_SERVER in code:
        server = request.getfixturevalue("kvs_server")
        code = code.replace(f"http://{DOC_SERVER}", server.endpoint_url)
    run([sys.executable, "-c", code + _RUN_TESTS], tmp_path)


@pytest.mark.parametrize("line,code", BASH_BLOCKS, ids=[f"line-{line}" for line, _ in BASH_BLOCKS])
def test_bash_block_runs(line, code, tmp_path, kvs_server):
    script = code.replace(f"http://{DOC_SERVER}", kvs_server.endpoint_url)
    script = re.sub(r"^aws ", f"{shlex.quote(sys.executable)} -m awscli ", script, flags=re.M)
    run(["bash", "-euo", "pipefail", "-c", script], tmp_path)
