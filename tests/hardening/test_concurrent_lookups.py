"""Lookups by ARN while other threads create and delete: never "dictionary changed size during iteration"."""

from __future__ import annotations

import threading



def test_backend_lookups_hold_the_lock_against_concurrent_changes(kvs):
    """Thread switches are forced often enough to hit the race the unlocked lookups had."""
    import sys

    from kvsmock.api.moto_glue import backend_for

    backend = backend_for("123456789012", "us-east-1")
    for i in range(2000):
        backend.create_stream(f"filler-{i}")
        backend.create_signaling_channel(f"filler-{i}")
    stream_arn = backend.create_stream("last").arn
    channel_arn = backend.create_signaling_channel("last").arn
    errors: list[BaseException] = []
    done = threading.Event()

    def churn() -> None:
        i = 0
        while not done.is_set():
            arn = backend.create_stream(f"churn-{i}").arn
            channel = backend.create_signaling_channel(f"churn-{i}").arn
            backend.delete_stream(arn)
            backend.delete_signaling_channel(channel)
            i += 1

    def look() -> None:
        try:
            for _ in range(3000):
                assert backend.find_stream({"StreamARN": stream_arn}).name == "last"
                assert backend.find_channel({"ChannelARN": channel_arn}).name == "last"
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=churn), threading.Thread(target=look)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
