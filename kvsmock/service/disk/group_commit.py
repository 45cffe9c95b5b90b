"""Group commit: the durable transactions that threads ask for at about the same time, made as one.

Every stored fragment waits for its index entry to reach the disk (an fsync
of the WAL) before its PERSISTED ACK. One transaction per fragment makes
the index a queue when hundreds of cameras store at once: each commit holds
the database for its fsync and for the GIL handovers between its
statements. :class:`GroupCommit` lets the first thread that finds no commit
running take every step queued so far and run them in one transaction; the
others wait for its outcome, so one fsync serves them all and the batch
grows with the load. Steps nobody waits for (usage records) are submitted:
they ride on the next commit, or a thread of their own commits them
(without an fsync, when no step in its batch needs one).

A batch that fails is rolled back (every step's ``undo`` runs) and each of
its steps is retried in a transaction of its own, so a step that cannot be
written fails alone and the others are stored.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Optional

from ..blocking_waits import waiting_on_disk
from .database import Database
from .writes import Writes

__all__ = ["GroupCommit"]

Step = Callable[[Writes], None]


@dataclass(eq=False)
class _Job:
    step: Step
    undo: Optional[Callable[[], None]]
    #: For a step nobody waits for: told the error if the step cannot be written.
    failed: Optional[Callable[[BaseException], None]]
    #: For a step its thread waits for: set when it is committed, or when that thread is to commit next.
    wake: Optional[threading.Event]
    #: Whether its transaction must reach the disk (an fsync) before it counts as committed (a submitted one's need not).
    durable: bool
    finished: bool = False
    error: Optional[BaseException] = None


class GroupCommit:
    """Durable transactions of ``db``, shared by the steps queued while one commits.

    One thread commits at a time (it "leads"). When it is done it wakes the
    threads whose steps it committed, each by its own event (hundreds of
    threads may wait: none is woken for another's commit), and hands the
    next commit to the oldest thread still waiting, or to the committer
    thread if only submitted steps are left.
    """

    def __init__(self, db: Database):
        self._db = db
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # :meth:`flush` waits on it
        self._queue: list[_Job] = []
        self._leading = False
        self._committer: threading.Thread | None = None  # commits submitted steps nobody waits for
        self._committer_turn = threading.Event()
        self._committer_leads = False
        self._closed = False
        #: Transactions committed (a batch, or a step retried alone): for tests and benchmarks.
        self.commits = 0

    @property
    def waiting(self) -> int:
        """Steps queued for the next commit."""
        with self._lock:
            return len(self._queue)

    def run(self, step: Step, undo: Callable[[], None] | None = None) -> None:
        """Run ``step`` in a durable transaction, returning once that transaction is committed.

        Raises what ``step`` or the commit raised (``sqlite3.Error`` when the
        disk refuses); ``undo`` runs first if the transaction that ran
        ``step`` was rolled back.
        """
        job = _Job(step, undo, None, threading.Event(), durable=True)
        with self._lock:
            self._queue.append(job)
            lead = not self._leading
            self._leading = True
        with waiting_on_disk():  # for another's commit, or for its own fsync
            if not lead:
                assert job.wake is not None
                job.wake.wait()  # committed, or this thread commits next
            if not job.finished:
                self._lead()
        if job.error is not None:
            raise job.error

    def submit(self, step: Step, failed: Callable[[BaseException], None], undo: Callable[[], None] | None = None) -> None:
        """Write ``step`` with the next commit, without waiting for it.

        The committer thread commits it if no thread that waits for its own
        step does first. ``failed(error)`` is called if the step cannot be
        written; ``undo`` as for :meth:`run`.
        """
        with self._lock:
            closing = self._closed
            if not closing:
                self._queue.append(_Job(step, undo, failed, None, durable=False))
                if self._committer is None:
                    self._committer = threading.Thread(target=self._commit_submitted, name="kvsmock-commit",
                                                       daemon=True)
                    self._committer.start()
                if self._leading:
                    return
                self._leading = self._committer_leads = True
        if closing:  # no committer any more
            try:
                self.run(step, undo)
            except Exception as exc:
                failed(exc)
            return
        self._committer_turn.set()

    def flush(self) -> None:
        """Return once everything queued so far is committed (or has failed)."""
        with self._lock:
            while self._leading:
                self._idle.wait()

    def close(self) -> None:
        """Commit what was submitted, then stop the committer thread."""
        with self._lock:
            self._closed = True
        self.flush()
        if self._committer is not None:
            self._committer_turn.set()
            self._committer.join()

    def _commit_submitted(self) -> None:
        while True:
            self._committer_turn.wait()
            self._committer_turn.clear()
            with self._lock:
                mine, self._committer_leads = self._committer_leads, False
                stop = self._closed and not mine
            if stop:
                return
            if mine:
                self._lead()

    def _lead(self) -> None:
        """Commit everything queued, then hand the next commit on (this thread leads now)."""
        with self._lock:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        finally:
            for job in batch:  # interrupted: nobody waits for ever
                if not job.finished:
                    self._finish(job, RuntimeError("the commit was interrupted"))
            with self._lock:
                following = next((job for job in self._queue if job.wake is not None), None)
                to_committer = following is None and bool(self._queue)
                if to_committer:
                    self._committer_leads = True
                elif following is None:
                    self._leading = False
                    self._idle.notify_all()
            if following is not None:
                assert following.wake is not None
                following.wake.set()
            elif to_committer:
                self._committer_turn.set()

    def _commit(self, batch: list[_Job]) -> None:
        try:
            with self._db.transaction(durable=any(job.durable for job in batch)) as conn:
                for job in batch:
                    job.step(conn)
        except Exception as exc:
            for job in batch:
                if job.undo is not None:
                    job.undo()
            if len(batch) == 1:
                self._finish(batch[0], exc)
            else:  # find which step cannot be written: each alone
                for job in batch:
                    self._commit([job])
            return
        self.commits += 1
        for job in batch:
            self._finish(job, None)

    @staticmethod
    def _finish(job: _Job, error: BaseException | None) -> None:
        job.error = error
        job.finished = True
        if job.wake is not None:
            job.wake.set()
        elif error is not None and job.failed is not None:
            job.failed(error)
