"""Marble tests for deduplicate."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from reactivex.notification import OnError
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.operators.dedupe import deduplicate

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


@dataclass(frozen=True)
class Event:
    event_id: str
    body: str = ""


def test_duplicates_are_dropped_and_reported() -> None:
    scheduler = TestScheduler()
    a1, b1, a2, c1, b2 = Event("a", "1"), Event("b", "1"), Event("a", "2"), Event("c"), Event("b")
    xs = scheduler.create_hot_observable(
        on_next(210, a1),
        on_next(220, b1),
        on_next(230, a2),
        on_next(240, c1),
        on_next(250, b2),
        on_completed(260),
    )
    dropped: list[Event] = []

    results = scheduler.start(lambda: xs.pipe(deduplicate(on_duplicate=dropped.append)))

    assert results.messages == [
        on_next(210, a1),
        on_next(220, b1),
        on_next(240, c1),
        on_completed(260),
    ]
    assert dropped == [a2, b2]
    assert dropped[0] is a2
    assert xs.subscriptions == [subscribe(200, 260)]


def test_eviction_lets_the_least_recently_seen_key_through_again() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(230, "a"),  # duplicate: a becomes the most recently seen
        on_next(240, "c"),  # capacity 2: evicts b, not a
        on_next(250, "a"),  # still remembered
        on_next(260, "b"),  # forgotten, passes again (and evicts c)
        on_next(270, "c"),  # forgotten too (evicts a)
        on_next(275, "b"),  # remembered
        on_completed(280),
    )

    results = scheduler.start(lambda: xs.pipe(deduplicate(lambda s: s, capacity=2)))

    assert results.messages == [
        on_next(210, "a"),
        on_next(220, "b"),
        on_next(240, "c"),
        on_next(260, "b"),
        on_next(270, "c"),
        on_completed(280),
    ]


def test_memory_is_per_subscription() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_cold_observable(on_next(10, "a"), on_next(20, "a"), on_completed(30))
    deduped = xs.pipe(deduplicate(str.upper))
    first = scheduler.create_observer()
    second = scheduler.create_observer()

    scheduler.schedule_absolute(200, lambda *_: deduped.subscribe(first))
    scheduler.schedule_absolute(300, lambda *_: deduped.subscribe(second))
    scheduler.start()

    assert first.messages == [on_next(210, "a"), on_completed(230)]
    assert second.messages == [on_next(310, "a"), on_completed(330)]
    assert xs.subscriptions == [subscribe(200, 230), subscribe(300, 330)]


def test_key_errors_end_the_stream() -> None:
    scheduler = TestScheduler()
    no_event_id: Any = object()
    xs = scheduler.create_hot_observable(
        on_next(210, Event("a")), on_next(220, no_event_id), on_next(230, Event("b"))
    )

    results = scheduler.start(lambda: xs.pipe(deduplicate()))

    assert results.messages[0] == on_next(210, Event("a"))
    failure = results.messages[1]
    assert failure.time == 220
    assert isinstance(failure.value, OnError)
    assert isinstance(failure.value.exception, AttributeError)
    assert len(results.messages) == 2
    assert xs.subscriptions == [subscribe(200, 220)]


def test_upstream_error_passes_through() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("upstream")
    xs = scheduler.create_hot_observable(on_next(210, Event("a")), on_error(220, error))

    results = scheduler.start(lambda: xs.pipe(deduplicate()))

    assert results.messages == [on_next(210, Event("a")), on_error(220, error)]


@pytest.mark.parametrize("capacity", [0, -1, True, 2.5])
def test_capacity_must_be_a_positive_int(capacity: object) -> None:
    with pytest.raises(ValueError, match="capacity must be an int >= 1"):
        deduplicate(capacity=capacity)  # type: ignore[call-overload]
