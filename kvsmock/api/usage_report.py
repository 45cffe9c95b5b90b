"""The usage report: what the service would bill, over every account and region."""

from __future__ import annotations

from typing import Any, Mapping

from ..errors import InvalidArgumentException
from ..service.usage import DEFAULT_RATES, cost
from .moto_glue import kinesisvideo_backends


def rate_table(overrides: Mapping[str, Any] | None = None) -> dict[str, float]:
    """The default rates with ``overrides`` applied (unknown names and non-numbers are refused)."""
    rates = dict(DEFAULT_RATES)
    for name, value in (overrides or {}).items():
        if name not in rates:
            raise InvalidArgumentException(f"Unknown rate {name!r}; rates are {', '.join(sorted(rates))}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidArgumentException(f"The rate {name!r} must be a number, not {value!r}.") from None
        if not number >= 0:
            raise InvalidArgumentException(f"The rate {name!r} must be zero or more.")
        rates[name] = number
    return rates


def usage(rates: Mapping[str, Any] | None = None, *, account_id: str | None = None, region: str | None = None) -> dict[str, Any]:
    """Counters per stream and channel (deleted ones included), and the cost they add up to.

    ``rates`` overrides entries of :data:`kvsmock.service.usage.DEFAULT_RATES`
    (US dollars); ``account_id`` / ``region`` narrow the report.
    """
    table = rate_table(rates)
    streams: list[dict[str, Any]] = []
    channels: list[dict[str, Any]] = []
    for account, regions in list(kinesisvideo_backends.items()):
        if account_id is not None and account != account_id:
            continue
        for region_name, backend in list(regions.items()):
            if region is not None and region_name != region:
                continue
            s, c = backend.usage_reports()
            streams += s
            channels += c
    for report in streams:
        report["CostUSD"] = cost([report], [], table)["Total"]
    for report in channels:
        report["CostUSD"] = cost([], [report], table)["Total"]
    return {"Streams": streams, "Channels": channels, "CostUSD": cost(streams, channels, table), "Rates": table}
