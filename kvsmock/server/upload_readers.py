"""Reading many uploads' chunked bodies with a few threads, instead of a thread each.

A camera sends a frame every 40 ms. With a thread reading each upload,
hundreds of cameras are hundreds of threads, each woken for every frame and
each waiting its turn for the GIL behind all the others: under that
contention every blocking call (a socket read, a file write, an fsync, a
database commit) costs milliseconds more to come back from, and the ACKs
wait for it. :class:`UploadReaders` keeps every pumped upload's socket in
one epoll set, watched by one thread; when one has bytes it is handed to a
pool of :data:`WORKERS` threads, which reads what has arrived
(``MSG_DONTWAIT``: the socket stays blocking for the response's thread,
which writes to it), decodes the chunks (:class:`~.chunked_body.ChunkedBody`)
and pushes the data to the upload's :class:`~kvsmock.api.request.BodySink`.
One upload is in at most one worker at a time; after :data:`TURN_BYTES` it
goes back to the epoll set so that others get their turn. While a worker
waits on the disk (with ``--data-dir``, a fragment's fsync and commit; in
memory, the spill threads' writes once their backlog is full:
:func:`~kvsmock.service.blocking_waits.waiting_on_disk`) another thread
reads in its place (one parked after an earlier wait, else a new one), so
the uploads behind it do not wait for that disk; once the wait is over, the
thread that had stood in is parked again (up to :data:`SPARES`; more end).

Only plain-HTTP chunked uploads on Linux are pumped: over TLS a read must
go through the TLS session's own buffering, and without epoll there is no
one-shot watch; those uploads (and uploads struck by a fault rule, whose
delays would hold a worker) are read by a thread each, as before.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
import threading
from io import BufferedReader

from ..api.request import BodySink
from ..service.blocking_waits import join_pool
from .chunked_body import ChunkedBody

__all__ = ["SocketPump", "UploadReaders", "upload_readers"]

log = logging.getLogger("kvsmock.server")

#: Threads reading pumped uploads. Few on purpose: with 300 cameras (``benchmarks/cameras.py``) two gave
#: ACK p99 38-176 ms in memory, three 101, four 440, sixteen 356 (each more only queues for the GIL).
WORKERS = 2
#: Threads kept parked for the next wait on the disk once the wait they stood in for is over; more end.
SPARES = 8
#: The most bytes one read takes.
RECV_SIZE = 256 * 1024
#: Bytes read from one upload in a turn before the others get theirs.
TURN_BYTES = 1024 * 1024

_ARMED, _RUNNING, _ENDED = range(3)  # a pump: in the epoll set, in a worker, done with its socket


class UploadReaders:
    """The epoll set and the workers shared by every pumped upload of the process (started on first use).

    Each socket is watched one-shot: once it reports bytes it is not
    watched again until the worker that read them re-arms it.
    """

    def __init__(self, workers: int = WORKERS, spares: int = SPARES):
        self._epoll = select.epoll()
        self._pumps: dict[int, SocketPump] = {}  # by file descriptor
        self._work: queue.SimpleQueue[tuple[SocketPump, bytes]] = queue.SimpleQueue()
        self._workers = workers
        self._most_spares = spares
        self._lock = threading.Lock()
        self._counted = threading.Condition(self._lock)  # notified when the counts below change
        self._started = False
        self._live = 0  # worker threads
        self._blocked = 0  # of them, waiting on the disk
        self._spares = 0  # of them, parked until a wait needs them
        self._spare_turn = threading.Semaphore(0)

    def pump(self, sock: socket.socket, rfile: BufferedReader) -> "SocketPump":
        """A pump for the chunked body arriving on ``sock`` (``rfile``: the buffered reader over it that has
        read the request's head, maybe some of the body too)."""
        return SocketPump(self, sock, rfile)

    def _arm(self, pump: "SocketPump") -> None:
        """Watch ``pump``'s socket for its next bytes (its lock is held)."""
        fd = pump.sock.fileno()
        if self._pumps.get(fd) is pump:
            self._epoll.modify(fd, _ONE_SHOT_READ)
        else:
            self._pumps[fd] = pump
            self._epoll.register(fd, _ONE_SHOT_READ)

    def _forget(self, pump: "SocketPump") -> None:
        """Stop watching ``pump``'s socket for good (its lock is held)."""
        fd = pump.sock.fileno()
        if self._pumps.get(fd) is pump:
            del self._pumps[fd]
            self._epoll.unregister(fd)

    def _submit(self, pump: "SocketPump", first: bytes = b"") -> None:
        if not self._started:  # the first upload starts the threads (the lock only then, not per read)
            self._start()
        self._work.put((pump, first))

    def _start(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._live = self._workers
        threading.Thread(target=self._watch, name="kvsmock-upload-epoll", daemon=True).start()
        for _ in range(self._workers):
            self._add_worker()

    def _add_worker(self) -> None:
        threading.Thread(target=self._read, name="kvsmock-upload", daemon=True).start()

    def _read(self) -> None:
        join_pool(self)  # its waits on the disk let another thread read meanwhile
        while True:
            pump, first = self._work.get()
            pump.turn(first)
            del pump, first  # nothing of an upload is kept alive while the worker waits
            if self._surplus():  # checked without the lock first: it is taken only after a wait
                with self._lock:
                    spare = self._surplus()  # a wait that another stood in for is over: one too many read now
                    if spare and self._spares >= self._most_spares:
                        self._live -= 1
                        self._counted.notify_all()
                        return
                    if spare:
                        self._spares += 1
                        self._counted.notify_all()
                if spare:
                    self._spare_turn.acquire()

    def _surplus(self) -> bool:
        """Whether more workers read now than :data:`WORKERS` (one stood in for a wait now over)."""
        return self._reading() > self._workers

    def _reading(self) -> int:
        """Worker threads that are neither parked nor waiting on the disk."""
        return self._live - self._spares - self._blocked

    # ------------------------------------------- a worker waits on the disk (BlockingPool)
    def blocked(self) -> None:
        """A worker is about to wait (an fsync, a commit): another reads in its place meanwhile."""
        with self._lock:
            self._blocked += 1
            short = self._reading() < self._workers  # a worker fewer than wanted
            wake = short and self._spares > 0
            if wake:
                self._spares -= 1
            elif short:
                self._live += 1
            self._counted.notify_all()
        if wake:
            self._spare_turn.release()
        elif short:
            self._add_worker()

    def unblocked(self) -> None:
        with self._lock:
            self._blocked -= 1
            self._counted.notify_all()

    def wait_threads(self, live: int, spares: int, timeout: float) -> bool:
        """Wait until there are ``live`` worker threads, ``spares`` of them parked; False at the timeout (for tests)."""
        with self._lock:
            return self._counted.wait_for(lambda: (self._live, self._spares) == (live, spares), timeout)

    def _watch(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                pump = self._pumps.get(fd)
                if pump is not None:
                    pump.ready()


_ONE_SHOT_READ = select.EPOLLIN | select.EPOLLONESHOT if hasattr(select, "epoll") else 0


class SocketPump:
    """One upload's chunked body, read by the shared :class:`UploadReaders` and pushed to a sink
    (:class:`kvsmock.api.request.BodyPump`)."""

    def __init__(self, readers: UploadReaders, sock: socket.socket, rfile: BufferedReader):
        self.sock = sock
        #: Bytes of the body (its data, not the chunks' framing) pushed so far.
        self.received = 0
        self._readers = readers
        self._rfile = rfile
        self._body = ChunkedBody()
        self._sink: BodySink | None = None
        self._lock = threading.Condition()
        self._state = _ENDED  # until started
        self._stopping = False

    def start(self, sink: BodySink) -> None:
        """Push the body into ``sink``: what the connection's reader holds already, then what arrives."""
        self._sink = sink
        error: OSError | None = None
        self.sock.setblocking(False)  # only this thread uses the socket now: its reader must not wait
        try:
            first = self._rfile.read1(RECV_SIZE)  # what it holds, or what has arrived (b"" if nothing has)
        except OSError as exc:
            first, error = b"", exc
        finally:
            self.sock.settimeout(None)
        with self._lock:
            self._state = _RUNNING
        if error is not None:
            self._finish(error)
        else:
            self._readers._submit(self, first or b"")

    def stop(self) -> None:
        """Stop pushing: returns once the sink is called no more (a turn under way ends first)."""
        with self._lock:
            self._stopping = True
            if self._state == _ARMED:
                self._readers._forget(self)
                self._state = _ENDED
            self._lock.wait_for(lambda: self._state == _ENDED)

    def ready(self) -> None:
        """The socket has bytes (the epoll thread): give it to a worker."""
        with self._lock:
            if self._state != _ARMED:
                return
            self._state = _RUNNING
        self._readers._submit(self)

    def turn(self, first: bytes = b"") -> None:
        """Read what has arrived (up to :data:`TURN_BYTES`) and push it (a worker)."""
        try:
            more = self._take(first) if first else True
            taken = len(first)
            while more and taken < TURN_BYTES:
                try:
                    data = self.sock.recv(RECV_SIZE, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except OSError as exc:
                    self._finish(exc)
                    return
                if not data:
                    self._finish(None if self._body.ends_at_close() else
                                 ConnectionError("the connection closed inside the body"))
                    return
                taken += len(data)
                more = self._take(data)
                if len(data) < RECV_SIZE:
                    break  # all there was: the next bytes wake the epoll set again
            if not more:
                return
            with self._lock:
                if not self._stopping:
                    self._readers._arm(self)
                    self._state = _ARMED
                    return
            self._finish(None)
        except Exception as exc:  # a kvsmock fault: the upload ends as if it could not be read
            log.exception("kvsmock failed reading an upload")
            self._finish(exc)

    def _take(self, data: bytes) -> bool:
        """Push the body's data in ``data``; False once the pump is finished."""
        assert self._sink is not None
        body = self._body
        for piece in body.feed(data):
            self.received += len(piece)
            if self._stopping or not self._sink.piece(piece):
                self._finish(None)
                return False
        if body.done or body.error is not None:
            self._finish(body.error)
            return False
        return True

    def _finish(self, error: BaseException | None) -> None:
        """The last of the pump: the sink's end (unless stopped), then whoever waits in :meth:`stop` goes on."""
        try:
            if not self._stopping and self._sink is not None:
                self._sink.end(error)
        finally:
            with self._lock:
                self._readers._forget(self)
                self._state = _ENDED
                self._lock.notify_all()


_readers: UploadReaders | None = None
_readers_lock = threading.Lock()


def upload_readers() -> UploadReaders | None:
    """The process's :class:`UploadReaders`; None where there is no epoll (not Linux): each upload is then
    read by a thread of its own."""
    global _readers
    if not hasattr(select, "epoll"):
        return None
    with _readers_lock:
        if _readers is None:
            _readers = UploadReaders()
        return _readers

