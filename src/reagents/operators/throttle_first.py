"""`throttle_first`: let a value through, then drop the others for ``duration`` seconds.

``throttle_first(3.0)``, one column a second::

    source:  -a-b-c---d-|
    result:  -a-----c---|      b (within 3 s of a) and d (within 3 s of c) are released

A dropped value's receipts are released at once. No timer is needed: each value is
compared with the time of the last one let through.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TypeVar

from reactivex import Observable, abc

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

__all__ = ["throttle_first"]

T = TypeVar("T")


def throttle_first(
    duration: float, scheduler: abc.SchedulerBase | None = None
) -> FlowOperator[T, T]:
    """The first value, then the first after each ``duration``-second quiet spell."""
    check_positive(duration=duration)
    window = timedelta(seconds=duration)

    def _throttle_first(source: Observable[Held[T]]) -> Observable[Held[T]]:
        flow = flow_input(source, "throttle_first")

        def subscribe(
            observer: abc.ObserverBase[Held[T]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            passed: list[datetime] = []

            def on_next(held: Held[T]) -> None:
                at = time_of(held, _scheduler)
                if passed and at - passed[0] < window:
                    held.release()
                    return
                passed[:] = [at]
                observer.on_next(held)

            return flow.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )

        return derived(flow, subscribe, f"throttle_first({seconds(duration)})")

    return _throttle_first
