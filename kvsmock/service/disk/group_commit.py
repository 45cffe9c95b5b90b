"""Group commit: the durable transactions that threads ask for at about the same time, made as one.

Every stored fragment waits for its index entry to reach the disk (an fsync
of the WAL) before its PERSISTED ACK. One transaction per fragment makes
the index a queue when hundreds of cameras store at once: each commit holds
the database for its fsync and for the GIL handovers between its
statements. :class:`GroupCommit` lets the first thread that finds no commit
running take every step queued so far and run them in one transaction; the
others wait for its outcome, so one fsync serves them all and the batch
grows with the load. Steps nobody waits for (usage records) are submitted:
they ride on the next commit, or a thread of their own commits them.

A batch that fails is rolled back (every step's ``undo`` runs) and each of
its steps is retried in a transaction of its own, so a step that cannot be
written fails alone and the others are stored.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from .database import Database

__all__ = ["GroupCommit"]

Step = Callable[[sqlite3.Connection], None]


@dataclass(eq=False)
class _Job:
    step: Step
    undo: Optional[Callable[[], None]]
    #: For a step nobody waits for: told the error if the step cannot be written.
    failed: Optional[Callable[[BaseException], None]] = None
    finished: bool = False
    error: Optional[BaseException] = None


class GroupCommit:
    """Durable transactions of ``db``, shared by the steps queued while one commits."""

    def __init__(self, db: Database):
        self._db = db
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._leading = False
        self._committer: threading.Thread | None = None  # commits submitted steps nobody waits for
        self._closed = False
        #: Transactions committed (a batch, or a step retried alone): for tests and benchmarks.
        self.commits = 0

    @property
    def waiting(self) -> int:
        """Steps queued for the next commit."""
        with self._cond:
            return len(self._queue)

    def run(self, step: Step, undo: Callable[[], None] | None = None) -> None:
        """Run ``step`` in a durable transaction, returning once that transaction is committed.

        Raises what ``step`` or the commit raised (``sqlite3.Error`` when the
        disk refuses); ``undo`` runs first if the transaction that ran
        ``step`` was rolled back.
        """
        job = _Job(step, undo)
        with self._cond:
            self._queue.append(job)
            while self._leading and not job.finished:
                self._cond.wait()
            lead = not job.finished
            if lead:  # no commit is running: this thread commits everything queued
                self._leading = True
        if lead:
            self._lead()
        if job.error is not None:
            raise job.error

    def submit(self, step: Step, failed: Callable[[BaseException], None], undo: Callable[[], None] | None = None) -> None:
        """Write ``step`` with the next commit, without waiting for it.

        A thread of its own commits it if no thread that waits for its own
        step does first. ``failed(error)`` is called if the step cannot be
        written; ``undo`` as for :meth:`run`.
        """
        job = _Job(step, undo, failed)
        with self._cond:
            if not self._closed:
                self._queue.append(job)
                if self._committer is None:
                    self._committer = threading.Thread(target=self._commit_submitted, name="kvsmock-commit",
                                                       daemon=True)
                    self._committer.start()
                self._cond.notify_all()
                return
        try:  # closing: nothing commits for it any more
            self.run(step, undo)
        except Exception as exc:
            failed(exc)

    def flush(self) -> None:
        """Return once everything queued so far is committed (or has failed)."""
        with self._cond:
            while self._queue or self._leading:
                self._cond.wait()

    def close(self) -> None:
        """Commit what was submitted, then stop the thread that commits it."""
        self.flush()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._committer is not None:
            self._committer.join()

    def _commit_submitted(self) -> None:
        while True:
            with self._cond:
                while self._leading or not self._queue:
                    if self._closed and not self._leading and not self._queue:
                        return
                    self._cond.wait()
                self._leading = True
            self._lead()

    def _lead(self) -> None:
        """Commit everything queued (this thread has just become the one that commits)."""
        with self._cond:
            batch, self._queue = self._queue, []
        try:
            self._commit(batch)
        finally:
            for job in batch:  # interrupted: nobody waits for ever
                if not job.finished:
                    self._finish(job, RuntimeError("the commit was interrupted"))
            with self._cond:
                self._leading = False
                self._cond.notify_all()

    def _commit(self, batch: list[_Job]) -> None:
        try:
            with self._db.transaction(durable=True) as conn:
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
        if error is not None and job.failed is not None:
            job.failed(error)
