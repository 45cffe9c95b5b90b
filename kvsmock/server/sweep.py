"""The retention sweep: a background thread that frees media whose retention has ended.

Reads drop expired fragments lazily anyway; the sweep frees their memory
even when nothing reads, once every :data:`SWEEP_INTERVAL` seconds of wall
time, in every account and region.
"""

from __future__ import annotations

import logging
import threading

from ..api.moto_glue import expire_all

log = logging.getLogger("kvsmock")

#: Seconds of wall time between sweeps.
SWEEP_INTERVAL = 1.0


class RetentionSweep:
    """The sweeping thread, started on creation; :meth:`stop` ends it."""

    def __init__(self, interval: float = SWEEP_INTERVAL):
        self._interval = interval
        self._stopped = threading.Event()
        threading.Thread(target=self._run, name="kvsmock-retention-sweep", daemon=True).start()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                expire_all()
            except Exception:  # never let the sweeper die; the next read expires lazily anyway
                log.exception("kvsmock retention sweep failed")

    def stop(self) -> None:
        self._stopped.set()
