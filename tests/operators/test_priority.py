"""Marble tests for priority_buffer and priority_merge (virtual time, 1 tick = 1 s)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import reactivex
from reactivex.notification import OnNext
from reactivex.subject import Subject
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.hotobservable import HotObservable
from reactivex.testing.recorded import Recorded

from reagents.operators.priority import priority_buffer, priority_merge
from reagents.policies import priority_of

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


@dataclass(frozen=True)
class Item:
    id: str
    priority: int


A, B, C, D, E = Item("a", 5), Item("b", 9), Item("c", 1), Item("d", 5), Item("e", 2)


def values(messages: list[Recorded[Item]]) -> list[Item]:
    return [m.value.value for m in messages if isinstance(m.value, OnNext)]


def busy_source(scheduler: TestScheduler) -> HotObservable[Item]:
    return scheduler.create_hot_observable(
        on_next(210, A),
        on_next(220, B),
        on_next(230, C),
        on_next(240, D),
        on_next(250, E),
        on_completed(260),
    )


def test_busy_consumer_gets_most_urgent_first_fifo_among_equals() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    credits = scheduler.create_hot_observable(
        on_next(300, 1), on_next(310, 1), on_next(320, 1), on_next(330, 1), on_next(340, 1)
    )

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits)))

    assert results.messages == [
        on_next(300, C),
        on_next(310, E),
        on_next(320, A),
        on_next(330, D),
        on_next(340, B),
        on_completed(340),
    ]
    assert [item.id for item in values(results.messages)] == ["c", "e", "a", "d", "b"]
    # The source is released when it completes; the credit stream when the buffer is done.
    assert xs.subscriptions == [subscribe(200, 260)]
    assert credits.subscriptions == [subscribe(200, 340)]


def test_ample_credits_pass_through_in_arrival_order() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)

    results = scheduler.start(lambda: xs.pipe(priority_buffer(reactivex.never(), initial=100)))

    assert results.messages == [
        on_next(210, A),
        on_next(220, B),
        on_next(230, C),
        on_next(240, D),
        on_next(250, E),
        on_completed(260),
    ]
    assert xs.subscriptions == [subscribe(200, 260)]


def test_one_grant_of_several_credits_releases_in_priority_order() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    credits = scheduler.create_hot_observable(on_next(300, 3), on_next(400, 10))

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits, initial=1)))

    # The initial credit lets A through on arrival; C, E, A... are buffered after that.
    assert results.messages == [
        on_next(210, A),
        on_next(300, C),
        on_next(300, E),
        on_next(300, D),
        on_next(400, B),
        on_completed(400),
    ]


def test_completion_waits_for_the_heap_and_unused_credits_carry_over() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, B), on_completed(220))
    credits = scheduler.create_hot_observable(on_next(205, 2))

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits)))

    assert results.messages == [on_next(210, B), on_completed(220)]


def test_source_error_propagates_at_once_and_buffered_items_are_discarded() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("boom")
    xs = scheduler.create_hot_observable(
        on_next(210, A), on_next(220, C), on_next(230, B), on_error(240, error)
    )
    discarded: list[Item] = []

    results = scheduler.start(
        lambda: xs.pipe(priority_buffer(reactivex.never(), initial=1, on_discard=discarded.append))
    )

    assert results.messages == [on_next(210, A), on_error(240, error)]
    assert discarded == [C, B]
    assert xs.subscriptions == [subscribe(200, 240)]


def test_disposal_reports_buffered_items() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    discarded: list[Item] = []

    results = scheduler.start(
        lambda: xs.pipe(priority_buffer(reactivex.never(), on_discard=discarded.append)),
        disposed=255,
    )

    assert results.messages == []
    assert discarded == [C, E, A, D, B]
    assert xs.subscriptions == [subscribe(200, 255)]


def test_request_of_zero_is_an_error() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    credits = scheduler.create_hot_observable(on_next(300, 0))

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits)))

    assert results.messages == [on_error(300, ValueError("request(n) needs n >= 1, got 0"))]
    assert credits.subscriptions == [subscribe(200, 300)]


def test_request_stream_error_propagates() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    error = RuntimeError("consumer gone")
    credits = scheduler.create_hot_observable(on_error(215, error))

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits, initial=5)))

    assert results.messages == [on_next(210, A), on_error(215, error)]


def test_negative_initial_credits_are_rejected() -> None:
    with pytest.raises(ValueError, match="initial credits must be >= 0, got -1"):
        priority_buffer(reactivex.never(), initial=-1)


def test_custom_key() -> None:
    scheduler = TestScheduler()
    xs = busy_source(scheduler)
    credits = scheduler.create_hot_observable(on_next(300, 5))

    def highest_first(item: Item) -> int:
        return -item.priority

    results = scheduler.start(lambda: xs.pipe(priority_buffer(credits, key=highest_first)))

    assert values(results.messages) == [B, A, D, E, C]
    assert results.messages[-1] == on_completed(300)


def test_key_error_propagates_and_buffered_items_are_discarded() -> None:
    scheduler = TestScheduler()
    xs: HotObservable[object] = scheduler.create_hot_observable(
        on_next(210, A), on_next(220, "not an item")
    )
    discarded: list[object] = []

    results = scheduler.start(
        lambda: xs.pipe(priority_buffer(reactivex.never(), on_discard=discarded.append))
    )

    assert results.messages == [
        on_error(
            220,
            TypeError(
                "str has no 'priority' attribute; pass key=... to say how "
                "urgent an item is (smaller = more urgent)"
            ),
        )
    ]
    assert discarded == [A]
    assert xs.subscriptions == [subscribe(200, 220)]


def test_default_key_needs_a_priority_attribute() -> None:
    assert priority_of(Item("x", 3)) == 3
    with pytest.raises(TypeError, match="str has no 'priority' attribute; pass key="):
        priority_of("no priority")


def test_consumer_may_grant_credits_from_inside_on_next() -> None:
    credits: Subject[int] = Subject()
    source: Subject[Item] = Subject()
    received: list[str] = []

    def handle(item: Item) -> None:
        received.append(item.id)
        credits.on_next(1)  # re-entrant grant: must not recurse or reorder

    source.pipe(priority_buffer(credits)).subscribe(handle)
    for item in (A, B, C, D, E):
        source.on_next(item)
    assert received == []
    credits.on_next(1)

    assert received == ["c", "e", "a", "d", "b"]


def test_priority_merge_without_request_is_a_plain_merge() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, B), on_next(230, C), on_completed(240))
    ys = scheduler.create_hot_observable(on_next(220, A), on_completed(250))

    results = scheduler.start(lambda: priority_merge(xs, ys))

    assert results.messages == [
        on_next(210, B),
        on_next(220, A),
        on_next(230, C),
        on_completed(250),
    ]


def test_priority_merge_with_request_releases_most_urgent_first() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, B), on_next(230, C), on_completed(240))
    ys = scheduler.create_hot_observable(on_next(220, A), on_next(225, D), on_completed(250))
    credits = scheduler.create_hot_observable(on_next(300, 2), on_next(310, 2))

    results = scheduler.start(lambda: priority_merge(xs, ys, request=credits))

    assert results.messages == [
        on_next(300, C),
        on_next(300, A),
        on_next(310, D),
        on_next(310, B),
        on_completed(310),
    ]
    assert xs.subscriptions == [subscribe(200, 240)]
    assert ys.subscriptions == [subscribe(200, 250)]
