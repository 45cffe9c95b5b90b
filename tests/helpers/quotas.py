"""The service's rate limits in tests: lift them for a test that hammers on purpose, or wait them out.

* :func:`quotas_off` — every rate and connection limit lifted for the
  duration (``kvsmock.quotas`` in-process, ``/_kvsmock/quotas`` for a
  server), the mode before restored after; :func:`no_quotas` is the same
  as a fixture (for whole modules of tests that hammer on purpose:
  ``pytestmark = pytest.mark.usefixtures("no_quotas")`` with the fixture
  imported);
* :func:`paced` — a boto3 call made again while the service throttles it
  (ClientLimitExceededException), for tests whose calls come faster than a
  limit allows without being about it (1 StartEdgeConfigurationUpdate a
  second per stream, ...).
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, Iterator

import pytest
import requests

from conftest_plugin import paced
from kvsmock.service.quotas import quotas

__all__ = ["no_quotas", "paced", "paced_client", "quotas_mode", "quotas_off", "set_quotas_mode"]


class _PacedClient:
    def __init__(self, client: Any):
        self._client = client

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        return functools.partial(paced, attr) if callable(attr) else attr


def paced_client(client: Any) -> Any:
    """``client`` with every call :func:`paced` (made again while the service throttles it)."""
    return _PacedClient(client)


def quotas_mode(kv: Any) -> str:
    """The quota mode of ``kv`` (the ``kvs`` or ``kvs_server`` fixture)."""
    if kv.endpoint_url:
        r = requests.get(f"{kv.endpoint_url}/_kvsmock/quotas", timeout=10)
        r.raise_for_status()
        return r.json()["mode"]
    return quotas.mode


def set_quotas_mode(kv: Any, mode: str) -> None:
    if kv.endpoint_url:
        requests.post(f"{kv.endpoint_url}/_kvsmock/quotas", json={"mode": mode}, timeout=10).raise_for_status()
    else:
        quotas.set(mode)


@contextlib.contextmanager
def quotas_off(kv: Any) -> Iterator[None]:
    """Every rate and connection limit of ``kv`` lifted inside the block; the mode before restored after."""
    before = quotas_mode(kv)
    set_quotas_mode(kv, "off")
    try:
        yield
    finally:
        set_quotas_mode(kv, before)


class _InProcess:
    endpoint_url = None


@pytest.fixture
def no_quotas(request: pytest.FixtureRequest) -> Iterator[None]:
    """Quotas off for the test, in-process and (if the test uses it) on the ``kvs_server``; restored after."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(quotas_off(_InProcess()))
        for name in ("kvs_server", "kv"):  # kv: the server or in-process, by its parameter
            if name in request.fixturenames:
                kv = request.getfixturevalue(name)
                if kv.endpoint_url:
                    stack.enter_context(quotas_off(kv))
                    break
        yield
