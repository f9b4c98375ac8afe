"""Resubscribe to a failing source after an exponential backoff delay.

``retry_with_backoff(max_retries=2, initial=1, multiplier=2)``, one character a
second, on a cold source that fails every time it is subscribed::

    source (cold):  -a#
    subscriptions:  ^-!^-! ^-!
    result:         -a--a---a#     (waits 1 s, then 2 s, then gives up)

After ``max_retries`` resubscriptions the last error propagates. Errors for which
``retry_on`` answers False propagate at once. :class:`Backoff` is the policy; its
:meth:`Backoff.delay` is reused wherever reagents waits before a retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import SerialDisposable, SingleAssignmentDisposable
from reactivex.scheduler import TimeoutScheduler

from reagents.policies.backoff import Backoff

_T = TypeVar("_T")


_DEFAULT = Backoff()


def retry_with_backoff(
    max_retries: int = _DEFAULT.max_retries,
    initial: float = _DEFAULT.initial,
    multiplier: float = _DEFAULT.multiplier,
    max_delay: float = _DEFAULT.max_delay,
    jitter: float = _DEFAULT.jitter,
    scheduler: abc.SchedulerBase | None = None,
    *,
    backoff: Backoff | None = None,
    retry_on: Callable[[Exception], bool] | None = None,
    rng: random.Random | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Resubscribe to the source after each error, waiting as :class:`Backoff` says.

    Pass either ``backoff=`` or the individual numbers, not both. The retry count is
    per subscription and is not reset by successful items. ``retry_on(exc)`` decides
    whether an error is retryable (default: all are); if it raises, that exception
    propagates. Delays are timed on ``scheduler``, else the subscribe-time scheduler,
    else the :class:`~reactivex.scheduler.TimeoutScheduler`.

    Raises:
        ValueError: at call time, for an invalid policy or for both kinds of arguments.
    """
    given = (max_retries, initial, multiplier, max_delay, jitter)
    if backoff is not None:
        defaults = (
            _DEFAULT.max_retries,
            _DEFAULT.initial,
            _DEFAULT.multiplier,
            _DEFAULT.max_delay,
            _DEFAULT.jitter,
        )
        if given != defaults:
            raise ValueError("pass either backoff= or the individual backoff arguments, not both")
        policy = backoff
    else:
        policy = Backoff(
            max_retries=max_retries,
            initial=initial,
            multiplier=multiplier,
            max_delay=max_delay,
            jitter=jitter,
        )

    def _retry(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = scheduler or scheduler_ or TimeoutScheduler.singleton()
            serial = SerialDisposable()
            retries = 0

            def attempt(*_: Any) -> None:
                # Assign the slot before subscribing: a source that fails synchronously
                # replaces it with the retry timer, which must not then be overwritten.
                current = SingleAssignmentDisposable()
                serial.disposable = current
                current.disposable = source.subscribe(
                    observer.on_next, on_error, observer.on_completed, scheduler=scheduler_
                )

            def on_error(error: Exception) -> None:
                nonlocal retries
                try:
                    retryable = retries < policy.max_retries and (
                        retry_on is None or retry_on(error)
                    )
                except Exception as predicate_error:
                    observer.on_error(predicate_error)
                    return
                if not retryable:
                    observer.on_error(error)
                    return
                retries += 1
                wait = policy.delay(retries, rng)
                serial.disposable = _scheduler.schedule_relative(wait, attempt)

            attempt()
            return serial

        return Observable(subscribe)

    return _retry


__all__ = ["retry_with_backoff"]
