"""Deliveries of one upload (notifications to SNS, images to S3), made off the ACK path.

Image generation decodes video and writes to S3: done on the ingest thread it
would hold back the ACKs of the fragments behind it. An upload hands each
persisted fragment whose tags ask for a delivery to its queue; one worker
thread (started when the first one comes) makes them in order, and
:meth:`DeliveryQueue.finish` waits for the last before the upload's response
ends, so a client that has read every ACK finds every delivery made.
"""

from __future__ import annotations

import logging
import queue
import threading

from .deliveries import IMAGE_GENERATION, NOTIFICATION, after_persisted
from .fragments import StoredFragment
from .streams import Stream

log = logging.getLogger("kvsmock")

_ASKING = frozenset({NOTIFICATION, IMAGE_GENERATION})


class DeliveryQueue:
    """The deliveries one upload owes, made in order on a worker of their own."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[Stream, StoredFragment] | None] = queue.Queue()
        self._worker: threading.Thread | None = None

    def put(self, stream: Stream, fragment: StoredFragment) -> None:
        """Deliver for ``fragment`` (persisted, its tags final) if its tags ask for it."""
        if not fragment.persisted or not any(name in _ASKING for name, _ in fragment.producer_tags):
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="kvsmock-deliveries", daemon=True)
            self._worker.start()
        self._queue.put((stream, fragment))

    def finish(self) -> None:
        """Wait until every delivery put so far has been made."""
        if self._worker is None:
            return
        self._queue.put(None)
        self._worker.join()
        self._worker = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            stream, fragment = item
            try:
                after_persisted(stream, fragment)
            except Exception:  # a kvsmock fault: logged, and the next delivery still goes
                log.exception("kvsmock failed delivering for fragment %s of %s", fragment.number, stream.arn)
