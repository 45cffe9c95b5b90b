"""The ACKs of one streamed PutMedia upload on their way to the producer.

The thread reading the upload makes the ACKs; the response's own thread
(the connection's) writes the response. Handing each ACK from one to the
other costs a thread wake-up, which under load waits its turn for the
interpreter behind every other thread of the server. So while the
response's thread is waiting, the reading thread sends an ACK group itself
(:meth:`~kvsmock.api.request.ChunkSender.send_now`, never waiting on the
socket); the response's thread gets the ACKs only when it is writing, when
some are already waiting for it, or when a send left bytes behind (it sends
them). The order on the wire is the order the ACKs were made.
"""

from __future__ import annotations

import threading
import time

from .request import ChunkSender

__all__ = ["AckOutbox"]


class AckOutbox:
    """ACK groups (each a list of ACK lines, sent together, one HTTP chunk per ACK) from the reading
    thread to the connection; ``sender`` is None where another thread may not write (TLS)."""

    def __init__(self, sender: ChunkSender | None):
        self._sender = sender
        self._cond = threading.Condition()
        #: Groups for the response's thread; an empty group asks it to send what a direct send left.
        self._backlog: list[list[bytes]] = []
        self._ended = False
        #: The response's thread is writing (it is at first: the response's head must go out first).
        self._writing = True
        self._closed = False
        self._left = False  # a direct send left bytes that the response's thread has not sent yet
        #: When the last ACK went out or was handed over (monotonic seconds): IDLE ACKs count from it.
        self.last_ack = time.monotonic()

    # ------------------------------------------------------- reading thread
    def put(self, lines: list[bytes]) -> None:
        """ACK lines that are ready together, sent now if the connection is free, else handed over."""
        with self._cond:
            self.last_ack = time.monotonic()
            if self._sender is not None and not (self._backlog or self._writing or self._left):
                if self._sender.send_now(lines):
                    return
                self._left = True
                lines = []  # sent, but not all of it: the response's thread sends the rest
            self._backlog.append(lines)
            self._cond.notify()

    def end(self) -> None:
        """No more ACKs: the response may end once the backlog is sent."""
        with self._cond:
            self._ended = True
            self._cond.notify()

    # --------------------------------------------------- the response's thread
    def take(self, timeout: float) -> tuple[list[bytes], bool] | None:
        """Wait up to ``timeout`` for work: the ACK lines to write (maybe none: then flush what a direct
        send left) and whether the ACKs have ended; None at the timeout. Until :meth:`written`, the
        response's thread is writing and ACKs are handed to it."""
        with self._cond:
            self._cond.wait_for(lambda: self._backlog or self._ended, timeout)
            if not (self._backlog or self._ended):
                return None
            lines = [line for group in self._backlog for line in group]
            self._backlog = []
            self._writing = True
            return lines, self._ended

    def idle_due(self, interval: float) -> bool:
        """Whether an IDLE ACK is due (none sent for ``interval`` seconds); if so the response's thread
        is writing it, until :meth:`written`."""
        with self._cond:
            if self._backlog or time.monotonic() - self.last_ack < interval:
                return False
            self.last_ack = time.monotonic()
            self._writing = True
            return True

    def written(self) -> None:
        """The response's thread has written (and flushed) what it took."""
        with self._cond:
            if not self._closed:
                self._writing = self._left = False

    def close(self) -> None:
        """The response is ending (its last bytes are the server's): nothing more is sent from here."""
        with self._cond:
            self._closed = self._writing = True
