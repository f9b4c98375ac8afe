"""Delay items to a token-bucket rate; never drop them.

``throttle(rate=2, per=1.0, burst=2)``: the bucket holds ``burst`` tokens and refills
at ``rate / per`` tokens a second. An item that finds a token passes at once; otherwise
it waits in a FIFO queue until one is available. One column is 0.5 s::

    source:  -(abcde)|
    result:  -(ab)c-d-e|      (a, b at t; c at t+0.5; d at t+1.0; e at t+1.5)

Completion waits until the queue is empty. An error propagates at once and the items
still queued are discarded (they are not emitted after the error). In a flow it paces
`Held` values as they are (nothing is dropped, so every receipt goes on with its value).
Time comes from ``scheduler``, else the subscribe-time scheduler, else the
``TimeoutScheduler``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler

from reagents.operators._flow import Flow, derived, seconds
from reagents.policies.rate import RateLimit, TokenBucket

_T = TypeVar("_T")


def throttle(
    rate: int,
    per: float = 1.0,
    burst: int | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Pace items to ``rate`` per ``per`` seconds (bursts of ``burst``), delaying, never dropping.

    The queue of delayed items is unbounded; a fast, endless source needs backpressure
    upstream (in a pipeline: a pausable source and the watermarks).

    Raises:
        ValueError: at call time, when ``rate < 1``, ``per <= 0`` or ``burst < 1``.
    """
    limit = RateLimit(rate=rate, per=per, burst=burst)

    def _throttle(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = scheduler or scheduler_ or TimeoutScheduler.singleton()
            lock = threading.RLock()
            queue: deque[_T] = deque()
            timer = SerialDisposable()
            bucket = TokenBucket(limit, _seconds(_scheduler))
            done = False

            def release() -> None:
                # Called under the lock: emit what the bucket allows, then wait for the
                # next token, or finish if the source is done.
                while queue:
                    wait = bucket.take(_seconds(_scheduler))
                    if wait:
                        timer.disposable = _scheduler.schedule_relative(
                            timedelta(seconds=wait), on_timer
                        )
                        return
                    observer.on_next(queue.popleft())
                if done:
                    observer.on_completed()

            def on_timer(_: abc.SchedulerBase, __: Any = None) -> None:
                with lock:
                    release()

            def on_next(item: _T) -> None:
                with lock:
                    queue.append(item)
                    if len(queue) == 1:  # otherwise a timer is already waiting
                        release()

            def on_error(error: Exception) -> None:
                with lock:
                    queue.clear()
                    timer.dispose()
                    observer.on_error(error)

            def on_completed() -> None:
                nonlocal done
                with lock:
                    done = True
                    if not queue:
                        observer.on_completed()

            subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler_)
            return CompositeDisposable(subscription, timer)

        if isinstance(source, Flow):
            return cast(
                Observable[_T], derived(source, subscribe, f"throttle({rate}/{seconds(per)})")
            )
        return Observable(subscribe)

    return _throttle


def _seconds(scheduler: abc.SchedulerBase) -> float:
    return scheduler.to_seconds(scheduler.now)


__all__ = ["throttle"]
