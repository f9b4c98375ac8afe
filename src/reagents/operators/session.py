"""`session`: a window that stays open while values keep coming less than ``gap`` apart.

``session(3.0)``, one column a second::

    source:  -a-b----c-d-e-----|
    result:  ------x--------y--|     x = [a,b] (3 s after b), y = [c,d,e]

Combine with `by_key` for one session per user, symbol or conversation. In event time
the gap is measured on event timestamps and a session closes when the watermark
passes its last value's time plus ``gap``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable

from reagents.delivery import Held
from reagents.errors import check_positive
from reagents.operators._flow import (
    FlowOperator,
    derived,
    flow_input,
    resolve_scheduler,
    seconds,
    time_of,
)

__all__ = ["session"]

T = TypeVar("T")


def session(gap: float, scheduler: abc.SchedulerBase | None = None) -> FlowOperator[T, list[T]]:
    """Lists of values that came less than ``gap`` seconds apart, sent ``gap`` after the last."""
    check_positive(gap=gap)

    def _session(source: Observable[Held[T]]) -> Observable[Held[list[T]]]:
        flow = flow_input(source, "session")

        def subscribe(
            observer: abc.ObserverBase[Held[list[T]]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            members: list[Held[T]] = []
            last = [_scheduler.now]
            timer = SerialDisposable()

            def close(*_: Any) -> None:
                timer.disposable = None
                if members:
                    out = Held.gather(members)
                    members.clear()
                    observer.on_next(out)

            def on_next(held: Held[T]) -> None:
                at = time_of(held, _scheduler)
                if members and at - last[0] >= timedelta(seconds=gap):
                    close()
                if not members or at > last[0]:
                    last[0] = at
                members.append(held)
                end = last[0] + timedelta(seconds=gap)
                timer.disposable = _scheduler.schedule_absolute(end, close)

            def on_completed() -> None:
                close()
                observer.on_completed()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, timer)

        return derived(flow, subscribe, f"session({seconds(gap)})")

    return _session
