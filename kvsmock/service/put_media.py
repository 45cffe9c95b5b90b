"""A PutMedia session: body bytes in, ACK events out (sans-I/O).

One session per PutMedia connection. :meth:`PutMediaSession.feed` takes the
upload in pieces of any size and returns the ACK events those bytes complete;
:meth:`close` ends the body. The same object runs under the server (ACKs
streamed while the upload goes on) and in-process (all ACKs at once).

ACKs follow the service: BUFFERING when a fragment's first bytes arrive,
RECEIVED when it is whole, PERSISTED once stored (only for streams that
retain data), ERROR with the service's ErrorId, after which the session takes
no more data. Fragments acknowledged before an ERROR stay stored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

from .. import clock
from ..errors import KmsKeyError
from ..media import Fragmenter, FragmentComplete, FragmentStarted, FragmentTags, HeaderParsed, MediaError
from ..media.fragmenter import ErrorId
from .deliveries import after_persisted
from .fragments import MediaHeader, StoredFragment
from .streams import Stream

MAX_CONNECTION_SECONDS = 45 * 60

log = logging.getLogger("kvsmock")


@dataclass
class _Current:
    number: str
    timecode: int
    server_timestamp: float


def ack(event_type: str, timecode: int | None = None, number: str | None = None, **extra: Any) -> dict[str, Any]:
    """One ACK event, keys in the order the service sends them."""
    out: dict[str, Any] = {"EventType": event_type}
    if timecode is not None:
        out["FragmentTimecode"] = timecode
    if number is not None:
        out["FragmentNumber"] = number
    out.update(extra)
    return out


def _tag_pairs(tags) -> tuple[tuple[str, str], ...]:
    return tuple((name, value if isinstance(value, str) else repr(value)) for name, value in tags)


class PutMediaSession:
    """The state of one PutMedia upload into one stream."""

    def __init__(self, stream: Stream, timecode_type: str = "ABSOLUTE", producer_start_timestamp: Decimal | None = None):
        self.stream = stream
        self.timecode_type = timecode_type
        self.producer_start = producer_start_timestamp or Decimal(0)
        self.started_at = clock.now()
        self.fragmenter = Fragmenter()
        self.header: MediaHeader | None = None
        self.current: _Current | None = None
        self.last_timecode: int | None = None
        self.last_number: str | None = None
        self.last_stored: StoredFragment | None = None
        #: A persisted fragment whose producer Tags may still grow: its deliveries wait for them.
        self.undelivered: StoredFragment | None = None
        self.ended = False

    # ---------------------------------------------------------------- API
    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The ACKs that ``data`` (the next bytes of the body) completes."""
        if self.ended or not data:
            return []
        if clock.now() - self.started_at > MAX_CONNECTION_SECONDS:
            return self._error(
                int(ErrorId.MAX_CONNECTION_DURATION_REACHED), ErrorId.MAX_CONNECTION_DURATION_REACHED.name
            )
        acks: list[dict[str, Any]] = []
        self._guarded(lambda: self._apply(self.fragmenter.feed(data), acks), acks)
        return acks

    def close(self) -> list[dict[str, Any]]:
        """The body has ended: the ACKs of what it completes."""
        if self.ended:
            return []
        acks: list[dict[str, Any]] = []
        self._guarded(lambda: self._apply(self.fragmenter.close(), acks), acks)
        self.ended = True
        self._deliver()
        return acks

    # ----------------------------------------------------------- internals
    def _guarded(self, work: Callable[[], None], acks: list[dict[str, Any]]) -> None:
        """Run ``work``; a fault inside kvsmock is logged with its traceback and ends the
        upload with INTERNAL_ERROR, after the ACKs of what was already stored."""
        try:
            work()
        except Exception:
            log.exception("kvsmock failed while ingesting a PutMedia upload into %s", self.stream.arn)
            if not self.ended:
                acks.append(self.internal_error())

    def _apply(self, events, acks: list[dict[str, Any]]) -> None:
        for event in events:
            if self.ended:
                break
            if isinstance(event, HeaderParsed):
                self.header = MediaHeader(event.ebml_header, event.header_bytes, tuple(event.tracks), event.timecode_scale)
            elif isinstance(event, FragmentStarted):
                acks += self._started(event)
            elif isinstance(event, FragmentComplete):
                acks += self._complete(event)
            elif isinstance(event, FragmentTags):
                if self.last_stored is not None:
                    self.stream.store.add_tags(self.last_stored, event.data, _tag_pairs(event.tags))
                    self.stream.usage.ingested_more(len(event.data))
                if event.last:
                    self._deliver()
            elif isinstance(event, MediaError):
                acks += self._error(event.code, event.name, event.timecode)

    def _stream_gone(self) -> bool:
        return self.stream.status != "ACTIVE"

    def _deliver(self) -> None:
        """Notifications and images for the fragment whose tags are now final."""
        fragment, self.undelivered = self.undelivered, None
        if fragment is not None:
            after_persisted(self.stream, fragment)

    def _started(self, event: FragmentStarted) -> list[dict[str, Any]]:
        self._deliver()  # a new Cluster: the previous fragment's Tags are all in
        if self._stream_gone():
            return self._error(int(ErrorId.STREAM_NOT_ACTIVE), ErrorId.STREAM_NOT_ACTIVE.name, event.timecode)
        self.current = _Current(self.stream.store.next_number(), event.timecode, clock.now())
        try:
            self.stream.keys.check()  # the stream's KMS key is first needed when media flows
        except KmsKeyError as err:
            return self._error(err.error_id, err.error_code, event.timecode)
        return [ack("BUFFERING", event.timecode, self.current.number)]

    def _producer_timestamp(self, timecode: int) -> Decimal:
        scale = self.header.timecode_scale_ns if self.header else 1_000_000
        seconds = Decimal(timecode) * Decimal(scale) / Decimal(1_000_000_000)
        if self.timecode_type == "RELATIVE":
            seconds += self.producer_start
        return seconds

    def _complete(self, event: FragmentComplete) -> list[dict[str, Any]]:
        fragment = event.fragment
        current = self.current
        if current is None or current.timecode != fragment.timecode:  # a Cluster without a Timecode first
            current = _Current(self.stream.store.next_number(), fragment.timecode, clock.now())
        self.current = None
        if self._stream_gone():
            return self._error(int(ErrorId.STREAM_NOT_ACTIVE), ErrorId.STREAM_NOT_ACTIVE.name, fragment.timecode, current.number)
        producer_ts = self._producer_timestamp(fragment.timecode)
        if not 0 <= producer_ts <= Decimal(clock.LATEST):  # a time no client could read back
            return self._error(
                int(ErrorId.INVALID_PRODUCER_TIMESTAMP), ErrorId.INVALID_PRODUCER_TIMESTAMP.name, fragment.timecode, current.number
            )
        assert self.header is not None  # the fragmenter reports the header before any cluster
        try:
            sealed = self.stream.keys.seal(fragment.cluster_bytes)
        except KmsKeyError as err:
            return self._error(err.error_id, err.error_code, fragment.timecode, current.number)
        scale = self.header.timecode_scale_ns
        stored = StoredFragment(
            number=current.number,
            server_timestamp=round(current.server_timestamp, 3),
            producer_timestamp=float(round(producer_ts, 3)),
            duration_ms=int(round(fragment.duration * scale / 1_000_000)),
            header=self.header,
            payload=sealed,
            tags_after=fragment.tags_after,
            producer_tags=_tag_pairs(fragment.tags),
            frame_count=fragment.frame_count,
            persisted=self.stream.data_retention_hours > 0,
        )
        self.stream.store.add(stored)
        self.stream.usage.ingested(stored.size)
        self.last_stored = stored
        self.last_timecode, self.last_number = fragment.timecode, current.number
        acks = [ack("RECEIVED", fragment.timecode, current.number)]
        if stored.persisted:
            acks.append(ack("PERSISTED", fragment.timecode, current.number))
            self.undelivered = stored
            if fragment.tags_final:
                self._deliver()
        return acks

    def _error(self, code: int, name: str, timecode: int | None = None, number: str | None = None) -> list[dict[str, Any]]:
        self.ended = True
        self._deliver()
        if number is None:
            number = self.current.number if self.current else self.stream.store.next_number()
        if timecode is None:
            timecode = self.current.timecode if self.current else (self.last_timecode or 0)
        self.current = None
        return [ack("ERROR", timecode, number, ErrorCode=name, ErrorId=code)]

    def read_error(self) -> dict[str, Any]:
        """The ERROR event for a body that could not be read (client gone, broken chunking)."""
        return self._error(int(ErrorId.STREAM_READ_ERROR), ErrorId.STREAM_READ_ERROR.name)[0]

    def internal_error(self) -> dict[str, Any]:
        """The ERROR event for a fault inside kvsmock (the service's INTERNAL_ERROR)."""
        return self._error(int(ErrorId.INTERNAL_ERROR), ErrorId.INTERNAL_ERROR.name)[0]

    def idle(self) -> dict[str, Any]:
        """The IDLE event sent while the connection is quiet."""
        return ack("IDLE", self.last_timecode, self.last_number)
