"""`by_key`: one sub-flow per key; one key's output never releases another key's input."""

from __future__ import annotations

from reactivex.testing import TestScheduler

from reagents.operators import batch, by_key, tumbling
from reagents.testing import Ledger, held_marbles, run_flow

TICKS = {"a": ("A", 1), "b": ("B", 1), "c": ("A", 2), "d": ("B", 2), "e": ("A", 3)}


def key(tick: tuple[str, int]) -> str:
    return tick[0]


def test_each_key_fills_its_own_batch() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c---d-e-|", TICKS, ledger)
    run = run_flow(scheduler, source, by_key(key, batch(2)))
    assert run.values == [
        (205.0, [("A", 1), ("A", 2)]),
        (209.0, [("B", 1), ("B", 2)]),
        (213.0, [("A", 3)]),  # flushed at completion
    ]
    # b (key B) arrived before c, but is released only with its own key's batch
    assert ledger.released == {
        "a": [205.0],
        "b": [209.0],
        "c": [205.0],
        "d": [209.0],
        "e": [213.0],
    }
    assert run.completed == 213.0
    assert ledger.outstanding() == []


def test_per_key_time_windows() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c----d---|", TICKS, ledger)
    run = run_flow(scheduler, source, by_key(key, tumbling(4.0)))
    assert run.values == [
        (204.0, [("A", 1)]),
        (204.0, [("B", 1)]),
        (208.0, [("A", 2)]),
        (212.0, [("B", 2)]),
    ]
    assert ledger.outstanding() == []


def test_the_least_recently_used_key_is_flushed_beyond_max_keys() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-|", TICKS, ledger)
    run = run_flow(scheduler, source, by_key(key, batch(10), max_keys=1))
    assert run.values == [(203.0, [("A", 1)]), (205.0, [("B", 1)]), (207.0, [("A", 2)])]
    assert ledger.released == {"a": [203.0], "b": [205.0], "c": [207.0]}


def test_the_hold_of_a_keyed_count_batch_is_per_key() -> None:
    scheduler = TestScheduler()
    source = held_marbles(scheduler, "-a|", TICKS, Ledger(scheduler))
    assert source.pipe(by_key(key, batch(10), max_keys=50)).hold == 450  # type: ignore[attr-defined]
