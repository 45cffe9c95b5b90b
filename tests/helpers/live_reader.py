"""A live GetMedia consumer on its own thread: each fragment and when it arrived, waited for by condition."""

from __future__ import annotations

import threading
import time

import requests

from kvsmock.media import FragmentReader


class LiveReader(threading.Thread):
    """Reads a GetMedia response until it ends, recording each fragment and when it arrived."""

    def __init__(self, response: requests.Response):
        super().__init__(daemon=True)
        self.response = response
        self.fragments: list = []
        self.times: list[float] = []
        self.ended_at: float | None = None
        self.error: BaseException | None = None
        self.changed = threading.Condition()  # notified with each fragment and at the end

    def run(self) -> None:
        reader = FragmentReader()
        try:
            for piece in self.response.iter_content(chunk_size=None):
                for fragment in reader.feed(piece):
                    with self.changed:
                        self.fragments.append(fragment)
                        self.times.append(time.monotonic())
                        self.changed.notify_all()
            with self.changed:
                self.fragments += reader.close()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc
        finally:
            with self.changed:
                self.ended_at = time.monotonic()
                self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` fragments have arrived; fails if the response ends first or ``timeout`` passes."""
        with self.changed:
            self.changed.wait_for(lambda: len(self.fragments) >= count or self.ended_at is not None, timeout)
            assert len(self.fragments) >= count, (
                "GetMedia ended early" if self.ended_at is not None
                else f"reader has {len(self.fragments)} fragments, wanted {count}"
            )
