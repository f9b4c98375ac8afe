"""`sample`: the newest value at each tick of ``interval`` seconds, if there is a new one.

``sample(3.0)`` (ticks at 3, 6, 9, ... on the clock), one column a second::

    source:  -a-b-----c--|
    result:  ---b-----c--|      a is superseded by b before the tick: released at once

Ticks are armed only while a value waits, so an idle flow has no timer. Completion
sends the value still waiting (its record must be handled, not forgotten).
"""

from __future__ import annotations

import math
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable

from reagents.delivery import Held
from reagents.errors import check_positive
from reagents.operators._flow import FlowOperator, derived, flow_input, resolve_scheduler, seconds

__all__ = ["sample"]

T = TypeVar("T")


def sample(interval: float, scheduler: abc.SchedulerBase | None = None) -> FlowOperator[T, T]:
    """At each multiple of ``interval`` seconds, the newest value since the last tick."""
    check_positive(interval=interval)

    def _sample(source: Observable[Held[T]]) -> Observable[Held[T]]:
        flow = flow_input(source, "sample")

        def subscribe(
            observer: abc.ObserverBase[Held[T]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            waiting: list[Held[T]] = []
            timer = SerialDisposable()

            def tick(*_: Any) -> None:
                timer.disposable = None
                if waiting:
                    observer.on_next(waiting.pop())

            def on_next(held: Held[T]) -> None:
                if waiting:
                    waiting.pop().release()
                waiting.append(held)
                if timer.disposable is None:
                    now = _scheduler.to_seconds(_scheduler.now)
                    due = (math.floor(now / interval) + 1) * interval
                    timer.disposable = _scheduler.schedule_absolute(
                        _scheduler.to_datetime(due), tick
                    )

            def on_completed() -> None:
                tick()
                observer.on_completed()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, timer)

        return derived(flow, subscribe, f"sample({seconds(interval)})")

    return _sample
