"""A stream's live GetMedia fan-out: one thread sends each new fragment to every caught-up reader.

Fifty readers tailing one stream would otherwise each wake when a fragment
is stored and take turns with the interpreter to build and send their copy.
Instead a reader that has caught up parks here with its connection
(:class:`~kvsmock.api.request.ChunkSender`), and the stream's fan-out
thread builds the chunk once and sends it to each parked reader without
waiting on any socket (with many readers, a second thread shares the
sending). The reader's own thread takes over again whenever
that is not enough: a send that would have to wait (the rest is the
reader's to send), a failed send, a reader more than one fragment behind,
or a chunk that cannot be built (a KMS failure, which each reader answers
with its own error chunk). Bytes, chunk layout and usage metering are those
of a reader that sends for itself.

The thread starts with the first parked reader and ends soon after the last
one leaves; only the thread holds the stream.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Callable

from ..service.fragments import FragmentStore, StoredFragment
from ..service.streams import Stream
from .request import ChunkSender

log = logging.getLogger("kvsmock")

__all__ = ["LiveFanOut", "live_fan_out"]

#: Seconds the fan-out thread waits for a fragment before it looks whether any reader is still parked.
IDLE_CHECK_SECONDS = 1.0
#: Readers in a round from which a second thread shares the sending: a send gives the interpreter up
#: while the kernel copies, so two threads copy on two cores at once.
SHARED_SENDING_FROM = 8

_PARKED, _SENDING, _RELEASED = "parked", "sending", "released"


@dataclass(eq=False)
class _Reader:
    """A parked reader: what it has been sent up to, and whether it is the fan-out's or its own."""

    after: str
    sender: ChunkSender
    stop: Callable[[], bool]
    #: Notified (on the fan-out's lock) when the reader is handed back, or the fan-out has finished
    #: sending to a reader that has stopped waiting.
    woken: threading.Condition
    sent: int = 0
    state: str = _PARKED
    #: Its wait is over, but the fan-out was sending to it: it waits for the end of that send.
    leaving: bool = False


class LiveFanOut:
    """The fan-out of one stream (see the module docstring); ``build`` makes a fragment's chunk pieces."""

    def __init__(self, build: Callable[[Stream, StoredFragment], list[bytes]]):
        self._build = build
        self._lock = threading.Lock()
        #: Notified when a reader parks or leaves (see :meth:`wait_parked`).
        self._changed = threading.Condition(self._lock)
        self._parked: list[_Reader] = []
        #: The parked readers as of the last change, read without the lock by the thread's wait.
        self._view: tuple[_Reader, ...] = ()
        self._thread: threading.Thread | None = None

    def wait(
        self, stream: Stream, after: str, sender: ChunkSender, timeout: float, stop: Callable[[], bool]
    ) -> tuple[str, int]:
        """Wait as a caught-up reader that has sent up to ``after``: until ``timeout``, ``stop()``, or the
        fan-out hands the reader back. Returns what it was sent up to, and how many fragments that was.
        The reader must then :meth:`~ChunkSender.flush` its connection before sending anything itself."""
        reader = _Reader(after, sender, stop, threading.Condition(self._lock))
        with self._lock:
            if stream.store.newer_than(after) or stop():  # not caught up: send for itself
                return after, 0
            self._parked.append(reader)
            self._view = tuple(self._parked)
            self._changed.notify_all()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, args=(stream,), name="kvsmock-get-media-fan-out", daemon=True
                )
                self._thread.start()
            reader.woken.wait_for(lambda: reader.state == _RELEASED or (reader.state == _PARKED and stop()), timeout)
            reader.leaving = True
            while reader.state == _SENDING:  # the fan-out is writing to its connection: let it finish
                reader.woken.wait()
            self._release(reader)
        return reader.after, reader.sent

    def wait_parked(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` readers are parked (for tests and diagnostics); False at the timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: len(self._parked) == count, timeout)

    def _release(self, reader: _Reader) -> None:
        """Hand ``reader`` back to its own thread (the lock held)."""
        if reader.state != _RELEASED:
            reader.state = _RELEASED
            self._parked.remove(reader)
            self._view = tuple(self._parked)
            reader.woken.notify()
            self._changed.notify_all()

    # ------------------------------------------------------------ the thread
    def _run(self, stream: Stream) -> None:
        try:
            self._serve(stream)
        except Exception:  # a kvsmock fault: logged; the readers send for themselves from now on
            log.exception("kvsmock's GetMedia fan-out of %s failed", stream.arn)
            with self._lock:
                for reader in [r for r in self._parked if r.state != _RELEASED]:
                    reader.state = _PARKED
                    self._release(reader)
                self._thread = None

    def _serve(self, stream: Stream) -> None:
        store = stream.store
        seen = ""
        while True:
            with self._lock:
                if not self._parked:
                    self._thread = None
                    return
                for reader in [r for r in self._parked if r.state == _PARKED and r.stop()]:
                    self._release(reader)  # its wait ends (the stream deleted, a producer come or gone)
            fragments = store.newer_than(seen)
            if fragments:
                seen = fragments[-1].number
                self._send_round(stream)
            store.wait_for_newer(seen, IDLE_CHECK_SECONDS, stop=self._someone_stops)

    def _someone_stops(self) -> bool:
        return any(reader.stop() for reader in self._view)

    def _send_round(self, stream: Stream) -> None:
        """Send each parked reader the one fragment it lacks; hand back those it cannot serve."""
        with self._lock:
            batch = [reader for reader in self._parked if reader.state == _PARKED and not reader.leaving]
            for reader in batch:
                reader.state = _SENDING
        fresh_after: dict[str, list[StoredFragment]] = {}  # the readers mostly wait after the same fragment
        chunks: dict[str, list[bytes] | None] = {}
        back: list[_Reader] = []
        sends: list[tuple[_Reader, StoredFragment, list[bytes]]] = []
        try:
            for reader in batch:
                fresh = fresh_after.get(reader.after)
                if fresh is None:
                    fresh = fresh_after[reader.after] = stream.store.newer_than(reader.after)
                if not fresh:
                    continue
                if len(fresh) > 1:
                    back.append(reader)  # behind: it catches up by itself
                    continue
                fragment = fresh[0]
                if fragment.number not in chunks:
                    chunks[fragment.number] = self._chunk(stream, fragment)
                pieces = chunks[fragment.number]
                if pieces is None:
                    back.append(reader)
                    continue
                sends.append((reader, fragment, pieces))
            if len(sends) < SHARED_SENDING_FROM:
                self._send(sends, back)
            else:
                failed: list[Exception] = []

                def other_half() -> None:
                    try:
                        self._send(sends[1::2], back)
                    except Exception as exc:  # raised in the fan-out thread below
                        failed.append(exc)

                helper = threading.Thread(target=other_half, name="kvsmock-get-media-fan-out")
                helper.start()
                self._send(sends[0::2], back)
                helper.join()
                if failed:
                    raise failed[0]
        finally:
            with self._lock:
                for reader in batch:
                    reader.state = _PARKED
                    if reader.leaving:
                        reader.woken.notify()
                for reader in back:
                    self._release(reader)
        consumed = sum(sum(len(piece) for piece in pieces) for _, _, pieces in sends)
        if consumed:
            stream.usage.consumed(consumed)  # once a round: with --data-dir, each count is a write

    @staticmethod
    def _send(sends: list[tuple[_Reader, StoredFragment, list[bytes]]], back: list[_Reader]) -> None:
        """Send each reader its chunk; those whose own thread must finish (or fail) the send go to ``back``."""
        for reader, fragment, pieces in sends:
            if not reader.sender.send_now(pieces):
                back.append(reader)
            reader.after = fragment.number
            reader.sent += 1

    def _chunk(self, stream: Stream, fragment: StoredFragment) -> list[bytes] | None:
        """The fragment's chunk pieces; None when it cannot be built (a KMS failure): the readers answer for themselves."""
        try:
            return self._build(stream, fragment)
        except Exception:  # each reader builds it for itself, and answers the failure as it would
            return None


_fan_outs: "weakref.WeakKeyDictionary[FragmentStore, LiveFanOut]" = weakref.WeakKeyDictionary()
_fan_outs_lock = threading.Lock()


def live_fan_out(stream: Stream, build: Callable[[Stream, StoredFragment], list[bytes]]) -> LiveFanOut:
    """The fan-out of ``stream`` (made on first use, kept as long as its store)."""
    with _fan_outs_lock:
        fan_out = _fan_outs.get(stream.store)
        if fan_out is None:
            fan_out = _fan_outs[stream.store] = LiveFanOut(build)
        return fan_out
