"""Fixtures for the media-layer tests: real media made with PyAV, and the reference captures."""

from __future__ import annotations

import pytest

from kvsmock.media.sample import encode_sample, sample_mkv


@pytest.fixture
def reference(reference_media):
    """Return a function giving the bytes of a reference capture, skipping when absent.

    The captures are found as ``reference_media`` (tests/conftest.py) finds them:
    ``$KVSMOCK_REFERENCE_MEDIA``, else ``../shared/reference-media`` beside the clone.
    """
    return lambda name: reference_media(name).read_bytes()


@pytest.fixture(scope="session")
def video_body() -> bytes:
    """6 s of H.264 in 2 s fragments, known-size clusters."""
    return sample_mkv(duration_s=6, fragment_s=2, start=0)


@pytest.fixture(scope="session")
def av_media():
    """Encoded H.264 + AAC packets (4 s, 1 s fragments) for building bodies of any layout."""
    return encode_sample(4.0, 1.0, 25, 160, 120, "h264", True)
