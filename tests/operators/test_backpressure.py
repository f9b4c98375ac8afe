"""Marble tests for bounded_buffer: one per overflow policy, pressure signals, drops."""

from __future__ import annotations

import logging

import pytest
import reactivex
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.coldobservable import ColdObservable
from reactivex.testing.hotobservable import HotObservable

from reagents.errors import BufferOverflowError
from reagents.operators.backpressure import bounded_buffer
from reagents.policies import BufferPolicy, DropReason, Overflow

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


def four_items(scheduler: TestScheduler) -> HotObservable[str]:
    return scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(230, "c"),
        on_next(240, "d"),
        on_completed(250),
    )


class Recorder:
    """Collects on_drop / on_pressure calls with the virtual time they happened at."""

    def __init__(self, scheduler: TestScheduler) -> None:
        self.scheduler = scheduler
        self.drops: list[tuple[float, str, DropReason]] = []
        self.pressure: list[tuple[float, bool]] = []

    def on_drop(self, item: str, reason: DropReason) -> None:
        self.drops.append((self.scheduler.clock, item, reason))

    def on_pressure(self, is_high: bool) -> None:
        self.pressure.append((self.scheduler.clock, is_high))


def credits_at_300(scheduler: TestScheduler, n: int = 5) -> HotObservable[int]:
    return scheduler.create_hot_observable(on_next(300, n))


def test_drop_oldest_evicts_the_head_and_reports_it() -> None:
    scheduler = TestScheduler()
    xs, credits, rec = four_items(scheduler), credits_at_300(scheduler), Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(
            bounded_buffer(
                2, "drop_oldest", credits, on_drop=rec.on_drop, on_pressure=rec.on_pressure
            )
        )
    )

    assert results.messages == [on_next(300, "c"), on_next(300, "d"), on_completed(300)]
    assert rec.drops == [(230, "a", DropReason.DROP_OLDEST), (240, "b", DropReason.DROP_OLDEST)]
    assert rec.pressure == [(220, True), (300, False)]
    assert xs.subscriptions == [subscribe(200, 250)]
    assert credits.subscriptions == [subscribe(200, 300)]


def test_drop_newest_rejects_arrivals_and_reports_them() -> None:
    scheduler = TestScheduler()
    xs, credits, rec = four_items(scheduler), credits_at_300(scheduler), Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(bounded_buffer(2, Overflow.DROP_NEWEST, credits, on_drop=rec.on_drop))
    )

    assert results.messages == [on_next(300, "a"), on_next(300, "b"), on_completed(300)]
    assert rec.drops == [(230, "c", DropReason.DROP_NEWEST), (240, "d", DropReason.DROP_NEWEST)]
    assert xs.subscriptions == [subscribe(200, 250)]


def test_error_policy_fails_with_the_capacity_and_reports_every_item() -> None:
    scheduler = TestScheduler()
    xs, credits, rec = four_items(scheduler), credits_at_300(scheduler), Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(bounded_buffer(2, "error", credits, on_drop=rec.on_drop))
    )

    assert results.messages == [
        on_error(230, BufferOverflowError(2)),
    ]
    assert str(BufferOverflowError(2)) == (
        "bounded buffer is full (capacity 2) and overflow='error'"
    )
    assert rec.drops == [
        (230, "c", DropReason.OVERFLOW),
        (230, "a", DropReason.DISCARDED),
        (230, "b", DropReason.DISCARDED),
    ]
    assert xs.subscriptions == [subscribe(200, 230)]
    assert credits.subscriptions == [subscribe(200, 230)]


def test_error_policy_error_type() -> None:
    scheduler = TestScheduler()
    xs = four_items(scheduler)
    errors: list[Exception] = []

    xs.pipe(bounded_buffer(1, "error", reactivex.never())).subscribe(
        on_error=errors.append, scheduler=scheduler
    )
    scheduler.start()

    assert len(errors) == 1
    assert isinstance(errors[0], BufferOverflowError)
    assert isinstance(errors[0], RuntimeError)
    assert errors[0].capacity == 1


def test_block_keeps_every_item_and_signals_high_and_low_water() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        [on_next(210 + 10 * i, i) for i in range(6)] + [on_completed(270)]
    )
    credits = scheduler.create_hot_observable([on_next(300 + 10 * i, 1) for i in range(6)])
    rec = Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(bounded_buffer(4, "block", credits, on_pressure=rec.on_pressure))
    )

    assert results.messages == [on_next(300 + 10 * i, i) for i in range(6)] + [on_completed(350)]
    # High when the 4th item waits (240); items 5 and 6 are kept beyond capacity without
    # a second signal; low once the buffer drains below capacity // 2 = 2 (one left, 340).
    assert rec.pressure == [(240, True), (340, False)]
    assert rec.drops == []


def test_block_honours_an_explicit_low_water_mark() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable([on_next(210 + 10 * i, i) for i in range(4)])
    credits = scheduler.create_hot_observable([on_next(300 + 10 * i, 1) for i in range(4)])
    rec = Recorder(scheduler)

    scheduler.start(
        lambda: xs.pipe(
            bounded_buffer(4, "block", credits, low_water=4, on_pressure=rec.on_pressure)
        )
    )

    assert rec.pressure == [(240, True), (300, False)]


def test_pressure_rises_again_after_it_was_released() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "a"), on_next(220, "b"), on_next(310, "c"), on_next(320, "d")
    )
    credits = scheduler.create_hot_observable(on_next(300, 2))
    rec = Recorder(scheduler)

    scheduler.start(
        lambda: xs.pipe(bounded_buffer(2, "block", credits, on_pressure=rec.on_pressure))
    )

    assert rec.pressure == [(220, True), (300, False), (320, True)]


def test_consumer_with_spare_credits_sees_a_plain_pass_through() -> None:
    scheduler = TestScheduler()
    xs = four_items(scheduler)
    rec = Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(
            bounded_buffer(1, "block", reactivex.never(), initial=10, on_pressure=rec.on_pressure)
        )
    )

    assert results.messages == [
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(230, "c"),
        on_next(240, "d"),
        on_completed(250),
    ]
    assert rec.pressure == []


def test_credits_granted_one_at_a_time_keep_fifo_order() -> None:
    scheduler = TestScheduler()
    xs = four_items(scheduler)
    credits: ColdObservable[int] = scheduler.create_cold_observable(
        on_next(100, 1), on_next(110, 1), on_next(120, 1), on_next(130, 1)
    )

    results = scheduler.start(
        lambda: xs.pipe(bounded_buffer(4, "error", credits)),
    )

    assert results.messages == [
        on_next(300, "a"),
        on_next(310, "b"),
        on_next(320, "c"),
        on_next(330, "d"),
        on_completed(330),
    ]


def test_disposal_reports_what_is_still_buffered() -> None:
    scheduler = TestScheduler()
    xs = four_items(scheduler)
    rec = Recorder(scheduler)

    results = scheduler.start(
        lambda: xs.pipe(
            bounded_buffer(2, "drop_newest", reactivex.never(), initial=1, on_drop=rec.on_drop)
        ),
        disposed=235,
    )

    assert results.messages == [on_next(210, "a")]
    assert rec.drops == [
        (235, "b", DropReason.DISCARDED),
        (235, "c", DropReason.DISCARDED),
    ]
    assert xs.subscriptions == [subscribe(200, 235)]


def test_source_error_discards_buffer_and_logs_without_on_drop(
    caplog: pytest.LogCaptureFixture,
) -> None:
    scheduler = TestScheduler()
    error = RuntimeError("boom")
    xs = scheduler.create_hot_observable(on_next(210, "a"), on_next(220, "b"), on_error(230, error))
    rec = Recorder(scheduler)

    with caplog.at_level(logging.WARNING, logger="reagents.operators.backpressure"):
        results = scheduler.start(
            lambda: xs.pipe(
                bounded_buffer(4, "block", reactivex.never(), on_pressure=rec.on_pressure)
            )
        )

    assert results.messages == [on_error(230, error)]
    assert "bounded_buffer dropped 2 item(s) (discarded) and has no on_drop" in caplog.text


def test_dropping_policies_require_on_drop() -> None:
    with pytest.raises(ValueError, match="overflow='drop_oldest' drops items: pass on_drop"):
        bounded_buffer(2, "drop_oldest", reactivex.never())
    with pytest.raises(ValueError, match="overflow='drop_newest' drops items: pass on_drop"):
        bounded_buffer(2, Overflow.DROP_NEWEST, reactivex.never())


def test_unknown_overflow_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="Input should be 'block', 'drop_oldest', 'drop_newest'"):
        bounded_buffer(2, "spill", reactivex.never())


def test_block_requires_on_pressure() -> None:
    with pytest.raises(ValueError, match="overflow='block' needs on_pressure"):
        bounded_buffer(2, "block", reactivex.never())


def test_negative_initial_credits_are_rejected() -> None:
    with pytest.raises(ValueError, match="initial credits must be >= 0, got -2"):
        bounded_buffer(2, "error", reactivex.never(), initial=-2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0, "overflow": "block"}, r"capacity\n.*greater than or equal to 1"),
        ({"capacity": 2, "overflow": "spill"}, r"overflow\n.*'block', 'drop_oldest'"),
        ({"capacity": 2, "overflow": "block", "low_water": 3}, r"low_water \(3\) must be <="),
        ({"capacity": 2, "overflow": "block", "low_water": 0}, r"low_water\n.*greater than"),
    ],
)
def test_buffer_policy_validates(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=rf"(?s){message}"):
        BufferPolicy(**kwargs)


def test_buffer_policy_low_water_default() -> None:
    assert BufferPolicy(capacity=10, overflow=Overflow.BLOCK).resume_below == 5
    assert BufferPolicy(capacity=1, overflow=Overflow.BLOCK).resume_below == 1
    assert BufferPolicy(capacity=10, overflow="error", low_water=8).resume_below == 8
