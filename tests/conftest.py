"""Shared test fixtures: most end-to-end tests run in-process and against the server."""

import pytest


@pytest.fixture(params=["in_process", "server"])
def kv(request):
    """kvsmock in both modes: the ``kvs`` fixture, then the ``kvs_server`` fixture."""
    return request.getfixturevalue("kvs" if request.param == "in_process" else "kvs_server")
