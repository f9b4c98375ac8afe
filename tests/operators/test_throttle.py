"""Marble tests for the token-bucket throttle.

TestScheduler keeps its clock in seconds (a float): tick 210 is 210 s after the epoch
and ``schedule_relative(0.5, ...)`` lands on tick 210.5.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import cast

import pytest
from reactivex.notification import OnNext
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.recorded import Recorded
from reactivex.testing.subscription import Subscription

from reagents.operators.throttle import throttle
from reagents.policies import RateLimit

# reactivex annotates ticks as int; this clock's ticks are float seconds.
on_next = cast("Callable[[float, object], Recorded[object]]", ReactiveTest.on_next)
on_error = cast("Callable[[float, Exception], Recorded[object]]", ReactiveTest.on_error)
on_completed = cast("Callable[[float], Recorded[object]]", ReactiveTest.on_completed)
subscribe = cast("Callable[[float, float], Subscription]", ReactiveTest.subscribe)


def test_burst_passes_at_once_then_items_are_paced() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(210, "b"),
        on_next(210, "c"),
        on_next(210, "d"),
        on_next(210, "e"),
        on_completed(250),
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=2, per=1.0, burst=2)))

    assert results.messages == [
        on_next(210, "a"),
        on_next(210, "b"),
        on_next(210.5, "c"),
        on_next(211.0, "d"),
        on_next(211.5, "e"),
        on_completed(250),
    ]
    assert xs.subscriptions == [subscribe(200, 250)]


def test_items_spaced_out_pass_without_delay() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, 1), on_next(212, 2), on_next(214, 3), on_completed(220)
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1, per=2.0, burst=1)))

    assert results.messages == [
        on_next(210, 1),
        on_next(212, 2),
        on_next(214, 3),
        on_completed(220),
    ]


def test_completion_waits_for_the_queue() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, 1), on_next(210, 2), on_next(210, 3), on_next(210, 4), on_completed(210)
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1)))

    assert results.messages == [
        on_next(210, 1),
        on_next(211, 2),
        on_next(212, 3),
        on_next(213, 4),
        on_completed(213),
    ]
    assert xs.subscriptions == [subscribe(200, 210)]


def test_bucket_refills_only_up_to_burst() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(210, "b"),
        on_next(300, "c"),
        on_next(300, "d"),
        on_next(300, "e"),
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=2, burst=2)))

    # 90 idle seconds refill the bucket to 2 tokens, not 180.
    assert results.messages == [
        on_next(210, "a"),
        on_next(210, "b"),
        on_next(300, "c"),
        on_next(300, "d"),
        on_next(300.5, "e"),
    ]


def test_new_item_queues_behind_waiting_ones_fifo() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "a"), on_next(210, "b"), on_next(210.9, "c"), on_completed(211)
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1, burst=1)))

    assert results.messages == [
        on_next(210, "a"),
        on_next(211, "b"),
        on_next(212, "c"),
        on_completed(212),
    ]


def test_rate_that_is_not_a_power_of_two_keeps_pace_without_spinning() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable([on_next(210, i) for i in range(7)])

    results = scheduler.start(lambda: xs.pipe(throttle(rate=3, burst=1)))

    times = [m.time for m in results.messages]
    assert [m.value.value for m in results.messages if isinstance(m.value, OnNext)] == list(
        range(7)
    )
    # 1/3 s apart: each wait is rounded up to the clock's 1 µs resolution, so the pace is
    # never faster than the rate and drifts by a few microseconds at most.
    assert times == pytest.approx([210 + i / 3 for i in range(7)], abs=1e-5)
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(1 / 3 - 1e-6 <= gap <= 1 / 3 + 5e-6 for gap in gaps), gaps


def test_error_propagates_at_once_and_drops_the_queue() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("boom")
    xs = scheduler.create_hot_observable(
        on_next(210, "a"), on_next(210, "b"), on_next(210, "c"), on_error(210.2, error)
    )

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1, burst=1)))

    assert results.messages == [on_next(210, "a"), on_error(210.2, error)]
    assert xs.subscriptions == [subscribe(200, 210.2)]


def test_explicit_scheduler_is_used() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2))

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1, per=0.25, scheduler=scheduler)))

    assert results.messages == [on_next(210, 1), on_next(210.25, 2)]


def test_disposal_cancels_the_pending_timer() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, 1), on_next(210, 2))

    results = scheduler.start(lambda: xs.pipe(throttle(rate=1, per=10.0)), disposed=215)

    assert results.messages == [on_next(210, 1)]
    assert xs.subscriptions == [subscribe(200, 215)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"rate": 0}, "rate"),
        ({"rate": -3}, "rate"),
        ({"rate": 1, "per": 0.0}, "per"),
        ({"rate": 1, "burst": 0}, "burst"),
    ],
)
def test_invalid_limits_are_rejected_with_the_field_named(
    kwargs: dict[str, float], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"(?s){field}\n.*greater than"):
        throttle(**kwargs)  # type: ignore[arg-type]


def test_rate_limit_defaults_burst_to_rate() -> None:
    assert RateLimit(rate=5).capacity == 5
    assert RateLimit(rate=5, burst=1).capacity == 1
    assert RateLimit(rate=4, per=2.0).tokens_per_second == 2.0
