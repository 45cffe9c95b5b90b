"""Usage metering: what the service would bill, counted per stream and per channel.

Counted, as the service bills them:

* data ingested: the bytes of every fragment PutMedia stored, each fragment
  billed at no less than 4 KB (the service's minimum per chunk);
* data consumed through GetMedia, GetMediaForFragmentList and GetClip (the
  media bytes sent), and separately through HLS and DASH;
* data stored: byte-seconds of emulator time that persisted fragments were
  kept, reported as GB-hours and GB-months;
* signaling messages sent through a signaling channel;
* active signaling channels: a channel is billed once for each calendar
  month (UTC, emulator time) in which a client connected to it;
* TURN streaming minutes: the time each TURN allocation of a channel lasted,
  billed in whole minutes (rounded up).

:func:`cost` prices a report with a rate table; :data:`DEFAULT_RATES` holds
the service's public us-east-1 prices (see the README for their date), and
every rate can be overridden.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from .persistence import persistence

__all__ = ["DEFAULT_RATES", "MIN_BILLED_CHUNK", "ChannelUsage", "StreamUsage", "cost"]

GB = 1024**3
HOURS_PER_MONTH = 730
#: The service bills each ingested chunk (fragment) as at least 4 KB.
MIN_BILLED_CHUNK = 4 * 1024
#: TURN streaming is metered in 1-minute increments.
TURN_BILLING_SECONDS = 60

#: US dollars; the service's public us-east-1 prices.
DEFAULT_RATES: dict[str, float] = {
    "ingested_per_gb": 0.0085,
    "consumed_per_gb": 0.0085,
    "consumed_hls_dash_per_gb": 0.0119,
    "stored_per_gb_month": 0.023,
    "signaling_per_million_messages": 2.25,
    "active_signaling_channel_per_month": 0.03,
    "turn_per_thousand_minutes": 0.12,
}


@dataclass
class StreamUsage:
    """Counters of one stream (kept after the stream is deleted: it was billed)."""

    stream_name: str
    stream_arn: str
    ingested_bytes: int = 0
    ingested_fragments: int = 0
    billed_ingested_bytes: int = 0
    consumed_bytes: int = 0
    consumed_hls_dash_bytes: int = 0
    #: Storage of fragments that have already left the store (the store reports the rest).
    deleted: bool = False
    _final_byte_seconds: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ingested(self, size: int) -> None:
        with self._lock:
            self.ingested_bytes += size
            self.ingested_fragments += 1
            self.billed_ingested_bytes += max(size, MIN_BILLED_CHUNK)
        persistence().usage_changed(self)

    def consumed(self, size: int) -> None:
        with self._lock:
            self.consumed_bytes += size
        persistence().usage_changed(self)

    def consumed_hls_dash(self, size: int) -> None:
        with self._lock:
            self.consumed_hls_dash_bytes += size
        persistence().usage_changed(self)

    def close(self, byte_seconds: float) -> None:
        """The stream was deleted: its storage stops here."""
        self.deleted = True
        self._final_byte_seconds = byte_seconds
        persistence().usage_changed(self)

    def ingested_more(self, size: int) -> None:
        """Bytes added to a fragment already counted (producer Tags after a known-size Cluster)."""
        with self._lock:
            self.ingested_bytes += size
            self.billed_ingested_bytes += size
        persistence().usage_changed(self)

    @property
    def final_byte_seconds(self) -> float | None:
        """Storage billed in all, once the stream is deleted."""
        return self._final_byte_seconds

    def report(self, byte_seconds: float | None = None, stored_bytes: int = 0) -> dict[str, Any]:
        if self._final_byte_seconds is not None:
            byte_seconds, stored_bytes = self._final_byte_seconds, 0
        gb_hours = (byte_seconds or 0.0) / GB / 3600
        return {
            "StreamName": self.stream_name,
            "StreamARN": self.stream_arn,
            "Deleted": self.deleted,
            "IngestedBytes": self.ingested_bytes,
            "IngestedFragments": self.ingested_fragments,
            "BilledIngestedBytes": self.billed_ingested_bytes,
            "ConsumedBytes": self.consumed_bytes,
            "ConsumedHlsDashBytes": self.consumed_hls_dash_bytes,
            "StoredBytes": stored_bytes,
            "StoredGBHours": gb_hours,
            "StoredGBMonths": gb_hours / HOURS_PER_MONTH,
        }


@dataclass
class ChannelUsage:
    """Counters of one signaling channel."""

    channel_name: str
    channel_arn: str
    messages: int = 0
    deleted: bool = False
    #: TURN streaming minutes billed (each allocation rounded up to whole minutes).
    turn_minutes: int = 0
    #: The months (``YYYY-MM``, UTC) in which a client connected: each is one active-channel month.
    active_months: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def message(self, count: int = 1) -> None:
        with self._lock:
            self.messages += count
        persistence().usage_changed(self)

    def connected(self, when: float) -> None:
        """A client connected at ``when`` (epoch seconds): the channel is active in that month."""
        month = time.strftime("%Y-%m", time.gmtime(when))
        with self._lock:
            if month in self.active_months:
                return
            self.active_months.append(month)
        persistence().usage_changed(self)

    def turn_allocation(self, seconds: float) -> int:
        """A TURN allocation lasted ``seconds``: bill it in whole minutes, rounded up; returns the minutes."""
        minutes = math.ceil(max(seconds, 0.0) / TURN_BILLING_SECONDS)
        if minutes:
            with self._lock:
                self.turn_minutes += minutes
            persistence().usage_changed(self)
        return minutes

    def report(self) -> dict[str, Any]:
        return {
            "ChannelName": self.channel_name,
            "ChannelARN": self.channel_arn,
            "Deleted": self.deleted,
            "SignalingMessages": self.messages,
            "ActiveSignalingChannelMonths": len(self.active_months),
            "TurnMinutes": self.turn_minutes,
        }


def cost(stream_reports: list[dict[str, Any]], channel_reports: list[dict[str, Any]], rates: Mapping[str, float]) -> dict[str, float]:
    """US dollars per billed dimension, and their total."""
    ingested = sum(r["BilledIngestedBytes"] for r in stream_reports) / GB
    consumed = sum(r["ConsumedBytes"] for r in stream_reports) / GB
    hls_dash = sum(r["ConsumedHlsDashBytes"] for r in stream_reports) / GB
    gb_months = sum(r["StoredGBMonths"] for r in stream_reports)
    messages = sum(r["SignalingMessages"] for r in channel_reports)
    active_months = sum(r.get("ActiveSignalingChannelMonths", 0) for r in channel_reports)
    turn_minutes = sum(r.get("TurnMinutes", 0) for r in channel_reports)
    out = {
        "Ingested": ingested * rates["ingested_per_gb"],
        "Consumed": consumed * rates["consumed_per_gb"],
        "ConsumedHlsDash": hls_dash * rates["consumed_hls_dash_per_gb"],
        "Stored": gb_months * rates["stored_per_gb_month"],
        "SignalingMessages": messages / 1e6 * rates["signaling_per_million_messages"],
        "ActiveSignalingChannels": active_months * rates["active_signaling_channel_per_month"],
        "TurnStreaming": turn_minutes / 1000 * rates["turn_per_thousand_minutes"],
    }
    out["Total"] = sum(out.values())
    return out
