"""`scan` carries the triggering input's acks; `each` runs element-wise Rx operators."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import reactivex
from reactivex import Observable
from reactivex import operators as ops
from reactivex.testing import TestScheduler

from reagents.errors import ConfigurationError
from reagents.operators import each, scan
from reagents.testing import Ledger, held_marbles, run_flow

NUMBERS = {"a": 1, "b": 2, "c": 3, "d": 0}


def test_scan_sends_the_running_state_with_the_inputs_receipt() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, scan(lambda total, x: total + x, 0))
    assert run.values == [(201.0, 1), (203.0, 3), (205.0, 6)]
    assert ledger.released == {"a": [201.0], "b": [203.0], "c": [205.0]}


def test_an_accumulator_that_raises_dead_letters_that_value_and_keeps_the_state() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-d-c-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, scan(lambda total, x: total + 10 // x, 0))
    assert [value for _, value in run.values] == [10, 13]
    assert ledger.failed == {"d": ["ZeroDivisionError: integer division or modulo by zero"]}
    assert ledger.outstanding() == []


def test_each_filter_releases_what_it_drops() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, each(ops.filter(lambda x: x % 2 == 1)))
    assert run.values == [(201.0, 1), (205.0, 3)]
    assert ledger.released == {"a": [201.0], "b": [203.0], "c": [205.0]}


def test_each_flat_map_shares_the_receipt_between_outputs() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, each(ops.flat_map(lambda x: [x] * x)))
    assert run.values == [(201.0, 1), (203.0, 2), (203.0, 2)]
    assert ledger.released == {"a": [201.0], "b": [203.0, 203.0]}
    assert ledger.outstanding() == []


def test_each_map_that_raises_dead_letters_one_value_and_goes_on() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-d-c-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, each(ops.map(lambda x: 6 // x)))
    assert [value for _, value in run.values] == [6, 2]
    assert list(ledger.failed) == ["d"]
    assert run.completed == 207.0


def test_each_take_while_releases_everything_after_it_ends() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-d-c-|", NUMBERS, ledger)
    run = run_flow(scheduler, source, each(ops.take_while(lambda x: x > 0)))
    assert [value for _, value in run.values] == [1, 2]
    assert ledger.released == {"a": [201.0], "b": [203.0], "d": [205.0], "c": [207.0]}


@pytest.mark.parametrize(
    ("operator", "advice"),
    [
        (ops.delay(1.0), "debounce or throttle"),
        (ops.buffer_with_count(2), "batch"),
        (ops.pairwise(), "scan"),
        (ops.group_by(lambda x: x), "by_key"),
    ],
)
def test_each_refuses_operators_that_combine_or_time_values(
    operator: Callable[[Observable[int]], Observable[object]], advice: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"acknowledgements.*use {advice}"):
        each(operator)


def test_an_operator_that_wants_a_timer_dead_letters_each_value_and_the_flow_goes_on() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-|", NUMBERS, ledger)

    def later(x: int) -> Observable[int]:
        return reactivex.timer(1.0).pipe(ops.map(lambda _: x))

    run = run_flow(scheduler, source, each(ops.flat_map(later)))
    assert run.values == []
    assert run.error is None
    assert run.completed == 205.0
    assert set(ledger.failed) == {"a", "b"}
    assert "NotElementWiseError" in ledger.failed["a"][0]
    assert ledger.outstanding() == []


@pytest.mark.parametrize("count", [1, 3])
def test_each_map_keeps_the_receipt_with_its_value(count: int) -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-|", NUMBERS, ledger)

    def plus_one(x: int) -> int:
        return x + 1

    operators = [each(ops.map(plus_one)) for _ in range(count)]
    run = run_flow(scheduler, source, *operators)
    assert run.values == [(201.0, 1 + count)]
    assert ledger.released == {"a": [201.0]}
