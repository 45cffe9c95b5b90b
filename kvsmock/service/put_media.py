"""One PutMedia upload into one stream: runs the upload's state machine and performs its effects.

:class:`~kvsmock.service.put_media_machine.PutMediaMachine` says what the
bytes amount to; this session does what that means for the stream: numbers
each fragment, checks the stream and its KMS key, seals and stores the
Cluster, meters it, and answers the ACKs the service sends. BUFFERING when a
fragment's first bytes arrive, RECEIVED when it is whole, PERSISTED once
stored (only for streams that retain data), ERROR with the service's
ErrorId, after which the session takes no more data. Fragments acknowledged
before an ERROR stay stored. Notifications and images go to a
:class:`~kvsmock.service.delivery_queue.DeliveryQueue`, off the ACK path.

The same object runs under the server (ACKs streamed while the upload goes
on) and in-process (all ACKs at once), fed by
:class:`kvsmock.api.put_media.UploadFeed`.
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any, Callable

from .. import clock
from ..errors import KmsKeyError
from ..media import ErrorId
from .delivery_queue import DeliveryQueue
from .encryption import Sealing, Written
from .faults import Strike
from .fragments import MediaHeader, StoredFragment
from .persistence import StorageError, persistence
from .put_media_events import Event, FragmentBegins, FragmentEnds, HeaderReady, TagsFollow, UploadFails
from .put_media_machine import PutMediaMachine
from .streams import Stream

log = logging.getLogger("kvsmock")

#: Bytes a buffer starts with for an upload's first fragment (later ones start at the size of the one before).
FIRST_FRAGMENT_GUESS = 64 * 1024


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

    def __init__(
        self,
        stream: Stream,
        timecode_type: str = "ABSOLUTE",
        producer_start_timestamp: Decimal | None = None,
        fault: Strike | None = None,
    ):
        self.stream = stream
        #: A fault rule's plan for this upload: a delay before each fragment is stored, and an
        #: ERROR ACK or a dropped connection when the fragment after ``after_fragments`` begins.
        self.fault = fault
        #: Fragments this upload has stored.
        self.stored_count = 0
        #: True once a fault rule has dropped the connection: the api layer closes it, without an ACK.
        self.dropped = False
        self.machine = PutMediaMachine(timecode_type, producer_start_timestamp, clock.now())
        self.header: MediaHeader | None = None
        #: The fragment being received: (number, timecode, server timestamp).
        self.current: tuple[str, int, float] | None = None
        #: Its bytes sealed as they arrive (None when its key could not be had yet: it is sealed whole when stored).
        self.sealing: Sealing | None = None
        #: The size of the last fragment stored: the next is expected to be about as large.
        self.last_size = 0
        self.last_timecode: int | None = None
        self.last_number: str | None = None
        self.last_stored: StoredFragment | None = None
        #: A persisted fragment whose producer Tags may still grow: its deliveries wait for them.
        self.undelivered: StoredFragment | None = None
        self.deliveries = DeliveryQueue()
        self.ended = False

    # ---------------------------------------------------------------- API
    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """The ACKs that ``data`` (the next bytes of the body) completes."""
        if self.ended or not data:
            return []
        return self._run(lambda: self.machine.feed(data, clock.now()))

    def close(self) -> list[dict[str, Any]]:
        """The body has ended: the ACKs of what it completes."""
        if self.ended:
            return []
        acks = self._run(self.machine.close)
        self.ended = True
        self._deliver()
        return acks

    def finish(self) -> None:
        """The upload is over, however it ended: wait for the deliveries it owes."""
        self.ended = True
        self._drop_sealing()
        self._deliver()
        self.deliveries.finish()

    def read_error(self) -> dict[str, Any]:
        """The ERROR event for a body that could not be read (client gone, broken chunking)."""
        return self._error(ErrorId.STREAM_READ_ERROR)[0]

    def internal_error(self) -> dict[str, Any]:
        """The ERROR event for a fault inside kvsmock (the service's INTERNAL_ERROR)."""
        return self._error(ErrorId.INTERNAL_ERROR)[0]

    def idle(self) -> dict[str, Any]:
        """The IDLE event sent while the connection is quiet."""
        return ack("IDLE", self.last_timecode, self.last_number)

    # ----------------------------------------------------------- effects
    def _run(self, step: Callable[[], list[Event]]) -> list[dict[str, Any]]:
        """The ACKs of the machine's next events, after sealing the fragment being received as far as it
        has come; a fault inside kvsmock is logged with its traceback and ends the upload with
        INTERNAL_ERROR, after the ACKs of what was stored.

        A fragment begun by these events is sealed from the next step on: its buffer is not made
        while the ACKs of the fragment before it wait to go out.
        """
        acks: list[dict[str, Any]] = []
        sealing = self.sealing
        try:
            for event in step():
                if self.ended:
                    break
                acks += self._perform(event)
            if sealing is not None and sealing is self.sealing and not self.ended:
                sealing.add(self.machine.open_cluster_bytes(sealing.size))
        except Exception:
            log.exception("kvsmock failed while ingesting a PutMedia upload into %s", self.stream.arn)
            if not self.ended:
                acks.append(self.internal_error())
        return acks

    def _perform(self, event: Event) -> list[dict[str, Any]]:
        if isinstance(event, HeaderReady):
            self.header = event.header
            return []
        if isinstance(event, FragmentBegins):
            return self._begin(event.timecode)
        if isinstance(event, FragmentEnds):
            return self._store(event)
        if isinstance(event, TagsFollow):
            if self.last_stored is not None:
                self.stream.store.add_tags(self.last_stored, event.data, _tag_pairs(event.tags))
                self.stream.usage.ingested_more(len(event.data))
            if event.last:
                self._deliver()
            return []
        assert isinstance(event, UploadFails)
        return self._error(event.error, event.timecode)

    def _stream_gone(self) -> bool:
        return self.stream.status != "ACTIVE"

    def _persists(self) -> bool:
        return self.stream.data_retention_hours > 0

    def _drop_sealing(self) -> None:
        """The fragment being sealed will not be stored."""
        sealing, self.sealing = self.sealing, None
        if sealing is not None:
            sealing.abort()

    def _deliver(self) -> None:
        """Hand over the fragment whose tags are now final for its notifications and images."""
        fragment, self.undelivered = self.undelivered, None
        if fragment is not None:
            self.deliveries.put(self.stream, fragment)

    def _begin(self, timecode: int) -> list[dict[str, Any]]:
        self._deliver()  # a new Cluster: the previous fragment's Tags are all in
        fault = self.fault
        if fault is not None and fault.after_fragments is not None and self.stored_count >= fault.after_fragments:
            if fault.error_id is not None:
                return self._error(ErrorId(fault.error_id), timecode)
            self.ended = self.dropped = True  # the connection closes: no ACK for this fragment
            return []
        if self._stream_gone():
            return self._error(ErrorId.STREAM_NOT_ACTIVE, timecode)
        self.current = (self.stream.store.next_number(), timecode, clock.now())
        self._drop_sealing()
        try:
            self.stream.keys.check()  # the stream's KMS key is first needed when media flows
        except KmsKeyError as err:
            return self._error(ErrorId(err.error_id), timecode)
        expected = self.last_size + self.last_size // 8 or FIRST_FRAGMENT_GUESS
        writer = persistence().media_writer(self.stream.arn, self.current[0]) if self._persists() else None
        try:
            self.sealing = self.stream.keys.begin(expected, writer)
        except KmsKeyError:
            pass  # no data key yet: the fragment is sealed whole when it is stored, which reports the error
        return [ack("BUFFERING", timecode, self.current[0])]

    def _store(self, event: FragmentEnds) -> list[dict[str, Any]]:
        fragment = event.fragment
        current, sealing = self.current, self.sealing
        if current is None or current[1] != fragment.timecode:  # a Cluster without a Timecode first
            self._drop_sealing()
            current, sealing = (self.stream.store.next_number(), fragment.timecode, clock.now()), None
        number, _, server_timestamp = current
        if self._stream_gone():
            return self._error(ErrorId.STREAM_NOT_ACTIVE, fragment.timecode, number)
        assert self.header is not None  # the machine reports the header before any fragment
        if self.fault is not None and self.fault.latency_s:
            time.sleep(self.fault.latency_s)  # a fault rule's delay, before each fragment's ACKs
        try:
            self.stream.keys.check()  # the key may have been disabled while the fragment arrived
            if sealing is None:
                sealing = self.stream.keys.begin(fragment.size)
        except KmsKeyError as err:
            return self._error(ErrorId(err.error_id), fragment.timecode, number)
        self.current = self.sealing = None
        sealed = sealing.finish(fragment.cluster_pieces)
        # A fragment begun on disk is persisted even if the stream stopped retaining data meanwhile: its
        # bytes are only there (it expires with the stream's retention, as any other).
        persisted = isinstance(sealed, Written) or self._persists()
        stored = StoredFragment(
            number=number,
            server_timestamp=round(server_timestamp, 3),
            producer_timestamp=float(round(event.producer_timestamp, 3)),
            duration_ms=event.duration_ms,
            header=self.header,
            payload=sealed,
            tags_after=fragment.tags_after,
            producer_tags=_tag_pairs(fragment.tags),
            frame_count=fragment.frame_count,
            persisted=persisted,
        )
        # Live GetMedia readers will want it at once: they are spared reading it back and decrypting it.
        cleartext = fragment.cluster_bytes if self.stream.get_media_connections else None
        try:
            self.stream.store.add(stored, cleartext)
        except StorageError as err:
            log.error("kvsmock could not store fragment %s of %s: %s", number, self.stream.arn, err)
            return self._error(ErrorId.ARCHIVAL_ERROR, fragment.timecode, number)
        self.stream.usage.ingested(stored.size)
        self.stored_count += 1
        self.last_stored, self.last_size = stored, fragment.size
        self.last_timecode, self.last_number = fragment.timecode, number
        acks = [ack("RECEIVED", fragment.timecode, number)]
        if stored.persisted:
            acks.append(ack("PERSISTED", fragment.timecode, number))
            self.undelivered = stored
            if fragment.tags_final:
                self._deliver()
        return acks

    def _error(self, error: ErrorId, timecode: int | None = None, number: str | None = None) -> list[dict[str, Any]]:
        self.ended = True
        self._deliver()
        if number is None:
            number = self.current[0] if self.current else self.stream.store.next_number()
        if timecode is None:
            timecode = self.current[1] if self.current else (self.last_timecode or 0)
        self.current = None
        self._drop_sealing()
        return [ack("ERROR", timecode, number, ErrorCode=error.name, ErrorId=int(error))]
