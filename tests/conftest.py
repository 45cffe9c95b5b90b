"""Shared test fixtures: most end-to-end tests run in-process and against the server."""

import os
from pathlib import Path

import pytest

#: Names the folder of reference captures of the real service (never copied into the repo).
REFERENCE_MEDIA_ENV = "KVSMOCK_REFERENCE_MEDIA"
_CLONE = Path(__file__).resolve().parents[1]


def reference_media_dir() -> Path:
    """Where the reference captures are: ``$KVSMOCK_REFERENCE_MEDIA``, else the first of
    ``../shared/reference-media`` beside the clone and ``/work/shared/reference-media`` that exists."""
    if os.environ.get(REFERENCE_MEDIA_ENV):
        return Path(os.environ[REFERENCE_MEDIA_ENV])
    candidates = (_CLONE.parent / "shared" / "reference-media", Path("/work/shared/reference-media"))
    return next((p for p in candidates if p.is_dir()), candidates[0])


@pytest.fixture(scope="session")
def reference_media():
    """``reference_media(name)``: the Path of a reference capture; the test is skipped when it is absent."""
    folder = reference_media_dir()

    def path(name: str) -> Path:
        found = folder / name
        if not found.is_file():
            pytest.skip(f"reference media {name} not found in {folder} (set {REFERENCE_MEDIA_ENV})")
        return found

    return path


@pytest.fixture(params=["in_process", "server"])
def kv(request):
    """kvsmock in both modes: the ``kvs`` fixture, then the ``kvs_server`` fixture."""
    return request.getfixturevalue("kvs" if request.param == "in_process" else "kvs_server")
