"""Marble tests for retry_with_backoff and property tests for Backoff.

TestScheduler measures time in seconds and one tick is one second, so ``initial=10``
means a 10-tick wait.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import reactivex
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.notification import OnError
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.operators.retry import retry_with_backoff
from reagents.policies import Backoff

on_next = ReactiveTest.on_next
on_error = ReactiveTest.on_error
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


class Boom(Exception):
    """The error the failing sources raise."""


def _failing_source(scheduler: TestScheduler, error: Exception) -> Any:
    """A cold ``-a#`` (10 ticks per character): emits a at +10 and fails at +20."""
    return scheduler.create_cold_observable(on_next(10, "a"), on_error(20, error))


def test_resubscribes_after_growing_delays_then_propagates_the_last_error() -> None:
    scheduler = TestScheduler()
    error = Boom("down")
    xs = _failing_source(scheduler, error)

    results = scheduler.start(
        lambda: xs.pipe(retry_with_backoff(max_retries=3, initial=10, multiplier=2, max_delay=100))
    )

    # Failures at 220, 250, 290; waits 10, 20, 40; the 4th subscription's error ends it.
    assert xs.subscriptions == [
        subscribe(200, 220),
        subscribe(230, 250),
        subscribe(270, 290),
        subscribe(330, 350),
    ]
    assert results.messages == [
        on_next(210, "a"),
        on_next(240, "a"),
        on_next(280, "a"),
        on_next(340, "a"),
        on_error(350, error),
    ]
    last = results.messages[-1].value
    assert isinstance(last, OnError)
    assert last.exception is error


def test_delays_are_capped_by_max_delay() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))

    scheduler.start(
        lambda: xs.pipe(retry_with_backoff(max_retries=3, initial=10, multiplier=3, max_delay=15))
    )

    # Waits 10, then min(30, 15), then min(90, 15).
    assert xs.subscriptions == [
        subscribe(200, 220),
        subscribe(230, 250),
        subscribe(265, 285),
        subscribe(300, 320),
    ]


def test_success_after_a_transient_failure_completes_normally() -> None:
    scheduler = TestScheduler()
    failing = _failing_source(scheduler, Boom("transient"))
    healthy = scheduler.create_cold_observable(on_next(10, "b"), on_completed(20))
    sources = iter([failing, healthy])

    results = scheduler.start(
        lambda: reactivex.defer(lambda _: next(sources)).pipe(
            retry_with_backoff(max_retries=3, initial=5, multiplier=2, max_delay=60)
        )
    )

    assert failing.subscriptions == [subscribe(200, 220)]
    assert healthy.subscriptions == [subscribe(225, 245)]
    assert results.messages == [on_next(210, "a"), on_next(235, "b"), on_completed(245)]


def test_zero_retries_propagates_the_first_error() -> None:
    scheduler = TestScheduler()
    error = Boom("down")
    xs = _failing_source(scheduler, error)

    results = scheduler.start(lambda: xs.pipe(retry_with_backoff(max_retries=0)))

    assert xs.subscriptions == [subscribe(200, 220)]
    assert results.messages == [on_next(210, "a"), on_error(220, error)]


def test_non_retryable_error_propagates_at_once() -> None:
    scheduler = TestScheduler()
    error = KeyError("fatal")
    xs = _failing_source(scheduler, error)
    seen: list[Exception] = []

    def retry_on(exc: Exception) -> bool:
        seen.append(exc)
        return isinstance(exc, Boom)

    results = scheduler.start(
        lambda: xs.pipe(retry_with_backoff(max_retries=5, initial=10, retry_on=retry_on))
    )

    assert xs.subscriptions == [subscribe(200, 220)]
    assert results.messages == [on_next(210, "a"), on_error(220, error)]
    assert seen == [error]


def test_retry_on_is_consulted_for_every_error() -> None:
    scheduler = TestScheduler()
    retryable = scheduler.create_cold_observable(on_error(20, Boom("again")))
    fatal_error = KeyError("fatal")
    fatal = scheduler.create_cold_observable(on_error(20, fatal_error))
    sources = iter([retryable, fatal])

    results = scheduler.start(
        lambda: reactivex.defer(lambda _: next(sources)).pipe(
            retry_with_backoff(
                max_retries=5, initial=10, retry_on=lambda exc: isinstance(exc, Boom)
            )
        )
    )

    assert retryable.subscriptions == [subscribe(200, 220)]
    assert fatal.subscriptions == [subscribe(230, 250)]
    assert results.messages == [on_error(250, fatal_error)]


def test_an_exception_in_retry_on_propagates() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))
    predicate_error = RuntimeError("bad predicate")

    def retry_on(exc: Exception) -> bool:
        raise predicate_error

    results = scheduler.start(lambda: xs.pipe(retry_with_backoff(retry_on=retry_on)))

    assert xs.subscriptions == [subscribe(200, 220)]
    assert results.messages == [on_next(210, "a"), on_error(220, predicate_error)]


def test_disposing_while_waiting_cancels_the_resubscription() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))

    results = scheduler.start(
        lambda: xs.pipe(retry_with_backoff(initial=10, max_delay=100)), disposed=225
    )

    assert xs.subscriptions == [subscribe(200, 220)]
    assert results.messages == [on_next(210, "a")]


def test_disposing_during_a_retry_unsubscribes_the_source() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))

    results = scheduler.start(
        lambda: xs.pipe(retry_with_backoff(initial=10, max_delay=100)), disposed=235
    )

    assert xs.subscriptions == [subscribe(200, 220), subscribe(230, 235)]
    assert results.messages == [on_next(210, "a")]


def test_source_failing_synchronously_on_subscribe_is_retried() -> None:
    scheduler = TestScheduler()
    error = Boom("refused")
    subscribed_at: list[float] = []

    def refuse(
        observer: abc.ObserverBase[str], _: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        subscribed_at.append(scheduler.clock)
        observer.on_error(error)
        return Disposable()

    results = scheduler.start(
        lambda: Observable(refuse).pipe(
            retry_with_backoff(max_retries=2, initial=10, multiplier=2, max_delay=100)
        )
    )

    assert subscribed_at == [200, 210, 230]
    assert results.messages == [on_error(230, error)]


def test_explicit_scheduler_times_the_delays() -> None:
    scheduler = TestScheduler()
    idle = TestScheduler()  # never advanced: a retry timed on it never fires
    xs = _failing_source(scheduler, Boom("down"))

    results = scheduler.start(lambda: xs.pipe(retry_with_backoff(initial=1, scheduler=idle)))

    assert xs.subscriptions == [subscribe(200, 220)]
    assert results.messages == [on_next(210, "a")]


def test_backoff_policy_object_is_used() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))
    policy = Backoff(max_retries=1, initial=7, max_delay=7)

    scheduler.start(lambda: xs.pipe(retry_with_backoff(backoff=policy)))

    assert xs.subscriptions == [subscribe(200, 220), subscribe(227, 247)]


def test_backoff_and_individual_arguments_are_exclusive() -> None:
    with pytest.raises(ValueError, match="either backoff= or the individual"):
        retry_with_backoff(max_retries=1, backoff=Backoff())


def test_jittered_resubscription_stays_within_bounds() -> None:
    scheduler = TestScheduler()
    xs = _failing_source(scheduler, Boom("down"))
    policy = Backoff(max_retries=1, initial=10, max_delay=10, jitter=0.5)
    expected_wait = policy.delay(1, random.Random(42))

    scheduler.start(lambda: xs.pipe(retry_with_backoff(backoff=policy, rng=random.Random(42))))

    retry_at = xs.subscriptions[1].subscribe
    assert 225 <= retry_at <= 230
    assert retry_at == pytest.approx(220 + expected_wait, abs=1e-5)


# --- Backoff -------------------------------------------------------------------------


def test_delay_grows_geometrically_and_caps() -> None:
    policy = Backoff(initial=0.5, multiplier=3, max_delay=10)

    assert [policy.delay(n) for n in range(1, 6)] == [0.5, 1.5, 4.5, 10, 10]


def test_delay_survives_huge_attempt_numbers() -> None:
    assert Backoff(max_delay=60).delay(100_000) == 60


def test_delay_rejects_attempt_zero() -> None:
    with pytest.raises(ValueError, match="attempt must be >= 1"):
        Backoff().delay(0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"max_retries": -1}, r"max_retries\n.*greater than or equal to 0"),
        ({"initial": 0}, r"initial\n.*greater than 0"),
        ({"multiplier": 0.5}, r"multiplier\n.*greater than or equal to 1"),
        ({"jitter": 1.5}, r"jitter\n.*less than or equal to 1"),
        ({"jitter": -0.1}, r"jitter\n.*greater than or equal to 0"),
        ({"initial": 5, "max_delay": 1}, r"max_delay \(1\.0\) must be >= initial \(5\.0\)"),
        ({"retries": 3}, r"retries\n.*Extra inputs are not permitted"),
    ],
)
def test_backoff_validation_messages(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Backoff(**fields)


def test_backoff_is_frozen() -> None:
    policy = Backoff()
    with pytest.raises(ValidationError, match="frozen"):
        policy.max_retries = 10  # type: ignore[misc]


_policies = st.builds(
    lambda initial, multiplier, extra, jitter: Backoff(
        initial=initial, multiplier=multiplier, max_delay=initial + extra, jitter=jitter
    ),
    initial=st.floats(min_value=1e-3, max_value=100),
    multiplier=st.floats(min_value=1, max_value=10),
    extra=st.floats(min_value=0, max_value=1000),
    jitter=st.floats(min_value=0, max_value=1),
)


@given(policy=_policies, attempt=st.integers(min_value=1, max_value=2_000), seed=st.integers())
def test_jittered_delay_is_within_bounds(policy: Backoff, attempt: int, seed: int) -> None:
    ceiling = Backoff(
        initial=policy.initial, multiplier=policy.multiplier, max_delay=policy.max_delay
    ).delay(attempt)

    delay = policy.delay(attempt, random.Random(seed))

    assert 0 < delay <= ceiling <= policy.max_delay
    assert delay >= ceiling * (1 - policy.jitter)


@given(policy=_policies, attempt=st.integers(min_value=1, max_value=2_000))
def test_unjittered_delay_never_decreases(policy: Backoff, attempt: int) -> None:
    steady = policy.model_copy(update={"jitter": 0.0})

    assert steady.delay(attempt) <= steady.delay(attempt + 1)
