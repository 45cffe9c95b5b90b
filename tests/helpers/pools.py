"""A thread pool for tests of announced waits (:mod:`kvsmock.service.blocking_waits`)."""

from __future__ import annotations


class RecordingPool:
    """A :class:`~kvsmock.service.blocking_waits.BlockingPool` that records the waits announced to it."""

    def __init__(self):
        self.calls: list[str] = []

    def blocked(self) -> None:
        self.calls.append("blocked")

    def unblocked(self) -> None:
        self.calls.append("unblocked")
