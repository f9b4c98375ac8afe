"""Tests for map_isolated (marbles) and map_isolated_async (asyncio)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, TypeVar

import pytest
import reactivex
from reactivex import Observable
from reactivex import operators as ops
from reactivex.subject import Subject
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.operators.isolate import map_isolated, map_isolated_async

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe

_T = TypeVar("_T")

Failures = list[tuple[Any, Exception]]

GUARD = 5.0
"""Seconds before a broken operator's test fails instead of hanging (not a sleep)."""


def _record(failures: Failures) -> Any:
    return lambda item, exc: failures.append((item, exc))


# --- map_isolated --------------------------------------------------------------------


def test_a_failing_item_is_reported_and_the_stream_continues() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, 1), on_next(220, 0), on_next(230, 5), on_completed(240)
    )
    failures: Failures = []

    results = scheduler.start(lambda: xs.pipe(map_isolated(lambda x: 10 // x, _record(failures))))

    assert results.messages == [on_next(210, 10), on_next(230, 2), on_completed(240)]
    assert xs.subscriptions == [subscribe(200, 240)]
    assert [item for item, _ in failures] == [0]
    assert isinstance(failures[0][1], ZeroDivisionError)


def test_consecutive_failures_are_all_reported() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        on_next(210, "1"), on_next(220, "x"), on_next(230, "y"), on_next(240, "4")
    )
    failures: Failures = []

    results = scheduler.start(lambda: xs.pipe(map_isolated(int, _record(failures))))

    assert results.messages == [on_next(210, 1), on_next(240, 4)]
    assert [item for item, _ in failures] == ["x", "y"]
    assert xs.subscriptions == [subscribe(200, 1000)]


def test_an_exception_in_on_error_ends_the_stream() -> None:
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(on_next(210, 1), on_next(220, 0), on_next(230, 5))
    handler_error = RuntimeError("dead letter queue unavailable")

    def on_item_error(item: int, exc: Exception) -> None:
        raise handler_error

    results = scheduler.start(lambda: xs.pipe(map_isolated(lambda x: 10 // x, on_item_error)))

    assert results.messages == [on_next(210, 10), on_error(220, handler_error)]
    assert xs.subscriptions == [subscribe(200, 220)]


def test_upstream_error_passes_through() -> None:
    scheduler = TestScheduler()
    error = RuntimeError("upstream")
    xs = scheduler.create_hot_observable(on_next(210, 1), on_error(220, error))
    failures: Failures = []

    results = scheduler.start(lambda: xs.pipe(map_isolated(lambda x: x, _record(failures))))

    assert results.messages == [on_next(210, 1), on_error(220, error)]
    assert failures == []


def test_a_downstream_exception_is_not_treated_as_an_item_failure() -> None:
    failures: Failures = []
    subject: Subject[int] = Subject()
    subject.pipe(map_isolated(lambda x: x, _record(failures))).subscribe(
        on_next=lambda _: (_ for _ in ()).throw(LookupError("downstream"))
    )

    with pytest.raises(LookupError, match="downstream"):
        subject.on_next(1)
    assert failures == []


# --- map_isolated_async --------------------------------------------------------------


async def _collect(observable: Observable[_T]) -> list[_T]:
    """Subscribe, and wait for completion (or raise the stream's error)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    items: list[_T] = []
    observable.subscribe(items.append, done.set_exception, lambda: done.set_result(None))
    await asyncio.wait_for(done, GUARD)
    return items


async def _yield(times: int) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


async def test_async_failing_item_is_reported_and_order_is_kept() -> None:
    failures: Failures = []

    async def step(x: int) -> int:
        await _yield(6 - x)  # early items take longest: concurrency would reorder them
        if x == 3:
            raise ValueError("bad item")
        return x * 10

    results = await _collect(
        reactivex.from_iterable(range(6)).pipe(map_isolated_async(step, _record(failures)))
    )

    assert results == [0, 10, 20, 40, 50]
    assert [item for item, _ in failures] == [3]
    assert isinstance(failures[0][1], ValueError)


async def test_async_concurrency_is_limited() -> None:
    active = peak = 0

    async def step(x: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await _yield(3)
        active -= 1
        return x

    results = await _collect(
        reactivex.from_iterable(range(10)).pipe(
            map_isolated_async(step, _record([]), max_concurrent=3)
        )
    )

    assert sorted(results) == list(range(10))
    assert peak == 3


async def test_async_upstream_error_follows_the_queued_items() -> None:
    subject: Subject[int] = Subject()
    error = RuntimeError("source broke")
    seen: list[int] = []

    async def step(x: int) -> int:
        await _yield(1)
        seen.append(x)
        return x + 1

    collected = asyncio.ensure_future(_collect(subject.pipe(map_isolated_async(step, _record([])))))
    await _yield(1)  # let _collect subscribe
    subject.on_next(1)
    subject.on_next(2)
    subject.on_error(error)  # before either item has been processed

    with pytest.raises(RuntimeError, match="source broke"):
        await collected
    assert seen == [1, 2]


async def test_async_exception_in_on_error_ends_the_stream_and_stops_work() -> None:
    processed: list[int] = []
    handler_error = RuntimeError("handler broke")

    async def step(x: int) -> int:
        await _yield(1)
        processed.append(x)
        if x == 1:
            raise ValueError("bad")
        return x

    def on_item_error(item: int, exc: Exception) -> None:
        raise handler_error

    with pytest.raises(RuntimeError, match="handler broke"):
        await _collect(
            reactivex.from_iterable(range(4)).pipe(map_isolated_async(step, on_item_error))
        )
    assert processed == [0, 1]


async def test_async_disposal_cancels_the_workers() -> None:
    loop = asyncio.get_running_loop()
    started: asyncio.Future[int] = loop.create_future()
    cancelled: asyncio.Future[int] = loop.create_future()
    subject: Subject[int] = Subject()
    emitted: list[object] = []

    async def step(x: int) -> int:
        started.set_result(x)
        try:
            await loop.create_future()  # never resolves
        except asyncio.CancelledError:
            cancelled.set_result(x)
            raise
        return x

    subscription = subject.pipe(map_isolated_async(step, _record([]))).subscribe(
        emitted.append, emitted.append, lambda: emitted.append("completed")
    )
    subject.on_next(7)
    assert await started == 7

    subscription.dispose()

    assert await asyncio.wait_for(cancelled, GUARD) == 7
    subject.on_completed()
    await _yield(2)
    assert emitted == []


async def test_async_source_may_emit_from_another_thread() -> None:
    loop = asyncio.get_running_loop()
    subject: Subject[int] = Subject()
    emitted_on: set[int] = set()

    async def step(x: int) -> int:
        return -x

    def record_thread(x: int) -> int:
        emitted_on.add(threading.get_ident())
        return x

    collected = asyncio.ensure_future(
        _collect(subject.pipe(map_isolated_async(step, _record([])), ops.map(record_thread)))
    )
    await _yield(1)

    def produce() -> None:
        for x in range(5):
            subject.on_next(x)
        subject.on_completed()

    await loop.run_in_executor(None, produce)

    assert await collected == [0, -1, -2, -3, -4]
    assert emitted_on == {threading.get_ident()}


def test_async_requires_a_running_event_loop() -> None:
    async def step(x: int) -> int:
        return x

    with pytest.raises(RuntimeError, match="running in an asyncio event loop"):
        reactivex.of(1).pipe(map_isolated_async(step, _record([]))).subscribe()


@pytest.mark.parametrize("max_concurrent", [0, -2, True, 1.5])
def test_async_max_concurrent_must_be_a_positive_int(max_concurrent: Any) -> None:
    async def step(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="max_concurrent must be an int >= 1"):
        map_isolated_async(step, _record([]), max_concurrent=max_concurrent)
