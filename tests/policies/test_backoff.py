"""`Backoff`: exponential delays, capped, with jitter on by default."""

from __future__ import annotations

import random

import pytest

from reagents.policies import Backoff


def test_jitter_is_on_by_default_and_only_shortens_a_delay() -> None:
    backoff = Backoff(initial=1.0, multiplier=2.0, max_delay=30.0)
    assert backoff.jitter == 0.5
    rng = random.Random(1)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 30.0)]:
        delays = {backoff.delay(attempt, rng) for _ in range(50)}
        assert len(delays) > 1  # events that failed together come back apart
        assert all(base / 2 < delay <= base for delay in delays)


def test_no_jitter_gives_the_exact_schedule() -> None:
    backoff = Backoff(initial=0.5, multiplier=3.0, max_delay=10.0, jitter=0)
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.5, 4.5, 10.0]


def test_a_seeded_generator_repeats_the_jittered_delays() -> None:
    backoff = Backoff()
    first = [backoff.delay(n, random.Random(7)) for n in (1, 2, 3)]
    again = [backoff.delay(n, random.Random(7)) for n in (1, 2, 3)]
    assert first == again


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        Backoff().delay(0)
