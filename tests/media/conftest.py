"""Fixtures for the media-layer tests: real media made with PyAV, and the reference captures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kvsmock.media.sample import encode_sample, sample_mkv

ROOT = Path(__file__).resolve().parents[2]
# Reference captures of the real service live beside the work tree (never copied into the repo);
# KVSMOCK_REFERENCE_MEDIA points elsewhere (tests needing them skip when the folder is absent).
if "KVSMOCK_REFERENCE_MEDIA" in os.environ:
    REFERENCE = Path(os.environ["KVSMOCK_REFERENCE_MEDIA"])
else:
    REFERENCE = next(
        (p for p in (ROOT.parent / "shared" / "reference-media", Path("/work/shared/reference-media")) if p.is_dir()),
        ROOT.parent / "shared" / "reference-media",
    )
FIXTURES = ROOT / "fixtures"


@pytest.fixture
def reference():
    """Return a function giving the bytes of a reference capture, skipping when absent."""

    def load(name: str) -> bytes:
        path = REFERENCE / name
        if not path.is_file():
            pytest.skip(f"reference media {name} not available")
        return path.read_bytes()

    return load


@pytest.fixture(scope="session")
def video_body() -> bytes:
    """6 s of H.264 in 2 s fragments, known-size clusters."""
    return sample_mkv(duration_s=6, fragment_s=2, start=0)


@pytest.fixture(scope="session")
def av_media():
    """Encoded H.264 + AAC packets (4 s, 1 s fragments) for building bodies of any layout."""
    return encode_sample(4.0, 1.0, 25, 160, 120, "h264", True)
