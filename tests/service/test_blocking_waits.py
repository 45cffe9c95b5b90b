"""Waits on the disk are announced to the pool of the thread that waits, once however they nest."""

from __future__ import annotations

import threading

from helpers.pools import RecordingPool
from kvsmock.service.blocking_waits import join_pool, waiting_on_disk


def in_thread(body) -> None:
    failure: list[BaseException] = []

    def run():
        try:
            body()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(10)
    assert not thread.is_alive() and not failure, failure


def test_a_wait_inside_another_is_announced_once_and_an_error_still_ends_it():
    pool = RecordingPool()

    def body():
        join_pool(pool)
        try:
            with waiting_on_disk():
                with waiting_on_disk():
                    raise OSError("disk gone")
        except OSError:
            pass
        with waiting_on_disk():
            assert pool.calls == ["blocked", "unblocked", "blocked"]

    in_thread(body)
    assert pool.calls == ["blocked", "unblocked", "blocked", "unblocked"]


def test_a_thread_of_no_pool_announces_nothing():
    pool = RecordingPool()
    in_thread(lambda: join_pool(pool))

    def other_thread():
        with waiting_on_disk():  # not the pool's thread
            pass

    in_thread(other_thread)
    assert pool.calls == []
