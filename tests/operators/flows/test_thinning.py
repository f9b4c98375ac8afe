"""`debounce`, `sample`, `throttle_first`, `distinct_until_changed`: dropped values
are released at once, survivors when handled."""

from __future__ import annotations

from reactivex.testing import TestScheduler

from reagents.operators import debounce, distinct_until_changed, sample, throttle_first
from reagents.testing import Ledger, held_marbles, run_flow

VALUES = {c: c for c in "abcdefg"}


def test_debounce_sends_the_last_value_of_a_burst() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-----c-d----|", VALUES, ledger)
    run = run_flow(scheduler, source, debounce(2.0))
    assert run.values == [(205.0, "b"), (213.0, "d")]
    assert ledger.released == {"a": [203.0], "b": [205.0], "c": [211.0], "d": [213.0]}
    assert ledger.outstanding() == []


def test_debounce_sends_what_waits_on_completion() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a|", VALUES, ledger)
    run = run_flow(scheduler, source, debounce(5.0))
    assert run.values == [(202.0, "a")]
    assert ledger.released == {"a": [202.0]}


def test_sample_sends_the_newest_value_at_each_tick() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-----c-----|", VALUES, ledger)
    run = run_flow(scheduler, source, sample(3.0))
    assert run.values == [(204.0, "b"), (210.0, "c")]
    assert ledger.released == {"a": [203.0], "b": [204.0], "c": [210.0]}
    assert ledger.outstanding() == []


def test_throttle_first_lets_one_through_per_window() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-d-|", VALUES, ledger)
    run = run_flow(scheduler, source, throttle_first(3.0))
    assert run.values == [(201.0, "a"), (205.0, "c")]
    assert ledger.released == {"a": [201.0], "b": [203.0], "c": [205.0], "d": [207.0]}


def test_distinct_until_changed_releases_repeats() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    states = {"a": "up", "b": "up", "c": "down", "d": "down", "e": "up"}
    source = held_marbles(scheduler, "-a-b-c-d-e-|", states, ledger)
    run = run_flow(scheduler, source, distinct_until_changed())
    assert run.values == [(201.0, "up"), (205.0, "down"), (209.0, "up")]
    assert ledger.released == {
        "a": [201.0],
        "b": [203.0],
        "c": [205.0],
        "d": [207.0],
        "e": [209.0],
    }


def test_a_key_that_raises_dead_letters_that_value_only() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    values = {"a": {"s": 1}, "b": {}, "c": {"s": 2}}
    source = held_marbles(scheduler, "-a-b-c-|", values, ledger)
    run = run_flow(scheduler, source, distinct_until_changed(lambda v: v["s"]))
    assert [value for _, value in run.values] == [{"s": 1}, {"s": 2}]
    assert ledger.failed == {"b": ["KeyError: 's'"]}
    assert ledger.outstanding() == []
    assert run.completed == 207.0
