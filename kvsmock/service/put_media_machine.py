"""PutMedia's state machine: body bytes in, what they amount to out (sans-I/O, as h11).

Feed it the upload in pieces of any size with the current time; it returns
:mod:`~kvsmock.service.put_media_events` events: the header is ready, a
fragment begins, a fragment ends (with its producer timestamp), Tags follow
the last fragment, the upload fails. It touches nothing outside itself: no
stream, store, clock or key; numbering, sealing, storing and acknowledging
are the driver's (:class:`~kvsmock.service.put_media.PutMediaSession`).
"""

from __future__ import annotations

from decimal import Decimal

from .. import clock
from ..media import ErrorId, Fragmenter, FragmentComplete, FragmentStarted, FragmentTags, HeaderParsed, MediaError
from .fragments import MediaHeader
from .put_media_events import Event, FragmentBegins, FragmentEnds, HeaderReady, TagsFollow, UploadFails

#: The longest a PutMedia connection may stay open (spec 1.7).
MAX_CONNECTION_SECONDS = 45 * 60
#: Producer timestamps must fall within the years clients can read back (1970 to the end of 9999).
_LATEST = Decimal(clock.LATEST)


class PutMediaMachine:
    """One upload's parse and rules; ``timecode_type`` is ABSOLUTE or RELATIVE (from ``producer_start``)."""

    def __init__(self, timecode_type: str = "ABSOLUTE", producer_start: Decimal | None = None, opened_at: float = 0.0):
        self.timecode_type = timecode_type
        self.producer_start = producer_start or Decimal(0)
        self.opened_at = opened_at
        self.fragmenter = Fragmenter()
        self.header: MediaHeader | None = None
        self.failed = False

    def feed(self, data: bytes, now: float) -> list[Event]:
        """The events ``data``, the next bytes of the body, completes (``now``: the current time)."""
        if self.failed or not data:
            return []
        if now - self.opened_at > MAX_CONNECTION_SECONDS:
            return self._fail(ErrorId.MAX_CONNECTION_DURATION_REACHED, None)
        return self._translate(self.fragmenter.feed(data))

    def open_cluster_bytes(self, start: int) -> list[bytes | memoryview]:
        """The bytes of the fragment being received known to be its own, from its byte ``start`` on
        (:meth:`~kvsmock.media.put_media.fragmenter.Fragmenter.open_cluster_bytes`)."""
        if self.failed:
            return []
        return self.fragmenter.open_cluster_bytes(start)

    def close(self) -> list[Event]:
        """The body has ended: the events of what that completes."""
        if self.failed:
            return []
        return self._translate(self.fragmenter.close())

    def _fail(self, error: ErrorId, timecode: int | None) -> list[Event]:
        self.failed = True
        return [UploadFails(error, timecode)]

    def _translate(self, events) -> list[Event]:
        out: list[Event] = []
        for event in events:
            if self.failed:
                break
            if isinstance(event, HeaderParsed):
                self.header = MediaHeader(event.ebml_header, event.header_bytes, tuple(event.tracks), event.timecode_scale)
                out.append(HeaderReady(self.header))
            elif isinstance(event, FragmentStarted):
                out.append(FragmentBegins(event.timecode))
            elif isinstance(event, FragmentComplete):
                out += self._ended(event)
            elif isinstance(event, FragmentTags):
                out.append(TagsFollow(event.data, tuple(event.tags), event.last))
            elif isinstance(event, MediaError):
                out += self._fail(ErrorId(event.code), event.timecode)
        return out

    def _ended(self, event: FragmentComplete) -> list[Event]:
        fragment = event.fragment
        scale = self.header.timecode_scale_ns if self.header else 1_000_000
        producer = Decimal(fragment.timecode) * Decimal(scale) / Decimal(1_000_000_000)
        if self.timecode_type == "RELATIVE":
            producer += self.producer_start
        if not 0 <= producer <= _LATEST:  # a time no client could read back
            return self._fail(ErrorId.INVALID_PRODUCER_TIMESTAMP, fragment.timecode)
        duration_ms = int(round(fragment.duration * scale / 1_000_000))
        return [FragmentEnds(fragment, producer, duration_ms)]
