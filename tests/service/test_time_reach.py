"""TimeReach: the time range of a listing found by bisection, however out of order some timestamps are."""

from __future__ import annotations

import random

from kvsmock.service.fragments import TimeReach


def test_the_range_found_holds_every_time_in_it():
    rng = random.Random(7)
    for _ in range(200):
        times: list[float] = []
        reach = TimeReach()
        for _ in range(rng.randrange(0, 60)):
            # mostly increasing, now and then one from the past, inserted anywhere now and then
            time = (times[-1] if times else 0) + rng.choice([1, 1, 1, 2, -5, -30])
            i = len(times) if rng.random() < 0.8 else rng.randrange(0, len(times) + 1)
            times.insert(i, time)
            reach.insert(i, time)
        if rng.random() < 0.3:
            del times[: rng.randrange(0, len(times) + 1)]  # expiry from the front, then a rebuild
            reach.rebuild(times)
        start = rng.uniform(-40, 70)
        end = start + rng.uniform(0, 30)
        first, last = reach.first_reaching(start), reach.end_before_passing(end)
        inside = [i for i, t in enumerate(times) if start <= t <= end]
        assert all(first <= i < last for i in inside), (times, start, end, first, last)
