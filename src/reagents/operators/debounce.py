"""`debounce`: send a value only once ``duration`` seconds pass without a newer one.

``debounce(2.0)``, one column a second::

    source:  -a-b-----c-d-|
    result:  -----b-------(d|)      a and c are superseded: released at once

A superseded value's receipts are released when the newer value arrives (it was
dropped, so its record is done); the survivor's when the handler has handled it.
Completion sends the value still waiting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable

from reagents.delivery import Held
from reagents.errors import check_positive
from reagents.operators._flow import FlowOperator, derived, flow_input, resolve_scheduler, seconds

__all__ = ["debounce"]

T = TypeVar("T")


def debounce(duration: float, scheduler: abc.SchedulerBase | None = None) -> FlowOperator[T, T]:
    """The last value of each burst, ``duration`` seconds after the burst went quiet."""
    check_positive(duration=duration)

    def _debounce(source: Observable[Held[T]]) -> Observable[Held[T]]:
        flow = flow_input(source, "debounce")

        def subscribe(
            observer: abc.ObserverBase[Held[T]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            waiting: list[Held[T]] = []
            timer = SerialDisposable()

            def send(*_: Any) -> None:
                if waiting:
                    observer.on_next(waiting.pop())

            def on_next(held: Held[T]) -> None:
                if waiting:
                    waiting.pop().release()
                waiting.append(held)
                timer.disposable = _scheduler.schedule_relative(timedelta(seconds=duration), send)

            def on_completed() -> None:
                timer.disposable = None
                send()
                observer.on_completed()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, timer)

        return derived(flow, subscribe, f"debounce({seconds(duration)})")

    return _debounce
