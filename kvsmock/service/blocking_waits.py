"""Waits on the disk, announced to the thread pool the waiting thread belongs to (as Java's
``ForkJoinPool.managedBlock``).

A pool that runs few threads on purpose (the server's upload readers: more
threads only queue longer for the GIL) sits idle while one of them waits
for an fsync or a commit, and every upload behind it waits too. Code that
is about to wait on the disk says so with :func:`waiting_on_disk`; if its
thread belongs to such a pool (:func:`join_pool`), the pool lets another
thread take its place until the wait is over. Anywhere else it does nothing.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator, Protocol

__all__ = ["BlockingPool", "join_pool", "waiting_on_disk"]


class BlockingPool(Protocol):
    """A pool that keeps enough threads running while some of its threads wait."""

    def blocked(self) -> None:
        """The calling thread (one of the pool's) is about to wait."""

    def unblocked(self) -> None:
        """Its wait is over."""


_local = threading.local()


def join_pool(pool: BlockingPool) -> None:
    """The calling thread is one of ``pool``'s: its waits are announced to it."""
    _local.pool = pool


@contextlib.contextmanager
def waiting_on_disk() -> Iterator[None]:
    """The block inside waits on the disk (an fsync, a durable commit); a wait inside another is the same wait."""
    pool: BlockingPool | None = getattr(_local, "pool", None)
    if pool is None or getattr(_local, "waiting", False):
        yield
        return
    _local.waiting = True
    pool.blocked()
    try:
        yield
    finally:
        _local.waiting = False
        pool.unblocked()
