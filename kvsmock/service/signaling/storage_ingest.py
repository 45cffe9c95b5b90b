"""What a storage session receives, stored in the stream through kvsmock's normal PutMedia path.

The media peer turns the master's media into live MKV fragments
(:mod:`kvsmock.media.live_mkv`); this feeds them to a
:class:`~kvsmock.service.put_media.PutMediaSession` with ABSOLUTE
timecodes, as a producer's PutMedia upload would be fed: so numbering,
timestamps, durability, encryption at rest, metering, notifications and
images apply unchanged. Each live MKV stream (each header) is one upload; a
new upload also starts before PutMedia's 45-minute connection limit, and
after an upload failed (its ERROR ACK is kept in :attr:`StorageIngest.errors`).
Not thread-safe: one thread at a time (the peer's worker) drives it.
"""

from __future__ import annotations

import logging
from typing import Any

from ... import clock
from ...media import ErrorId
from ...media.live_mkv import LiveFragment
from ..put_media import PutMediaSession
from ..put_media_machine import MAX_CONNECTION_SECONDS
from ..streams import Stream

log = logging.getLogger("kvsmock.signaling")

#: A new upload starts once one has been open this long (the producer SDKs rotate before the limit too).
ROTATE_SECONDS = MAX_CONNECTION_SECONDS - 5 * 60


class StorageIngest:
    """Stores a storage session's fragments in one stream."""

    def __init__(self, stream: Stream):
        self.stream = stream
        self.fragments_stored = 0
        #: ERROR ACKs the uploads ended with.
        self.errors: list[dict[str, Any]] = []
        self._upload: PutMediaSession | None = None
        self._header: bytes | None = None
        self._opened_at = 0.0
        self.gone = False

    def store(self, fragment: LiveFragment) -> bool:
        """Store one fragment; False once the stream can take no more (deleted, no longer active)."""
        if self.gone:
            return False
        if self._upload is not None and (
            fragment.header != self._header or clock.now() - self._opened_at >= ROTATE_SECONDS
        ):
            self._end_upload()
        acks: list[dict[str, Any]] = []
        if self._upload is None:
            self._upload = PutMediaSession(self.stream, "ABSOLUTE")
            self._header, self._opened_at = fragment.header, clock.now()
            acks += self._upload.feed(fragment.header)
        acks += self._upload.feed(fragment.cluster)
        self._check(acks)
        return not self.gone

    def close(self) -> None:
        """The session is over: end the upload, and wait for its notifications and images."""
        self._end_upload()

    def _end_upload(self) -> None:
        upload, self._upload = self._upload, None
        if upload is None:
            return
        self._check(upload.close())
        upload.finish()

    def _check(self, acks: list[dict[str, Any]]) -> None:
        for ack in acks:
            if ack["EventType"] == "RECEIVED":
                self.fragments_stored += 1
            elif ack["EventType"] == "ERROR":
                self.errors.append(ack)
                log.warning("WebRTC ingestion into %s: PutMedia refused a fragment: %s", self.stream.arn, ack)
                if ack.get("ErrorId") == int(ErrorId.STREAM_NOT_ACTIVE) or self.stream.status != "ACTIVE":
                    self.gone = True
                upload, self._upload = self._upload, None
                if upload is not None:
                    upload.finish()
