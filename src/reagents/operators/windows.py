"""Time windows: `tumbling` (back to back) and `hopping` (overlapping), aligned to the clock.

``tumbling(3.0)``: windows [0, 3), [3, 6), ... of the scheduler's clock; one list per
window that has members, sent when the window ends. ``hopping(4.0, every=2.0)``:
windows [0, 4), [2, 6), [4, 8), ...; a value belongs to every window that covers its
time, so it is shared (each window holds its receipt once more). One column a second,
starting at a multiple of the window size::

    source:        -a-b--c--d|
    tumbling(3):   ---x--y--(z|)    x = [a,b], y = [c], z = [d] (completion flushes)
    hopping(4, 2): ----x-y-z-(w|)   x = [a,b], y = [b,c], z = [c,d], w = [d]

In event time (a pipeline flow with ``EventTime``) a value's time is its event
timestamp and windows close when the watermark passes their end; a value for a window
that already closed is late and is released (dropped) at once.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

from reagents.delivery import Held
from reagents.errors import ConfigurationError, check_positive
from reagents.operators._flow import (
    FlowOperator,
    derived,
    flow_input,
    resolve_scheduler,
    seconds,
    time_of,
)

__all__ = ["hopping", "tumbling"]

T = TypeVar("T")


def tumbling(size: float, scheduler: abc.SchedulerBase | None = None) -> FlowOperator[T, list[T]]:
    """Lists of the values of each ``size``-second window, sent when the window ends."""
    check_positive(size=size)
    return _windows("tumbling", size, size, scheduler, f"tumbling({seconds(size)})")


def hopping(
    size: float, every: float, scheduler: abc.SchedulerBase | None = None
) -> FlowOperator[T, list[T]]:
    """Lists of the values of ``size``-second windows starting every ``every`` seconds."""
    check_positive(size=size, every=every)
    if every > size:
        raise ConfigurationError(
            f"hopping(size={size}, every={every}) leaves gaps between windows; "
            "use every <= size (or sample/throttle_first to thin a stream)"
        )
    label = f"hopping({seconds(size)}, every={seconds(every)})"
    return _windows("hopping", size, every, scheduler, label)


def _windows(
    name: str, size: float, every: float, scheduler: abc.SchedulerBase | None, label: str
) -> FlowOperator[T, list[T]]:
    def _operator(source: Observable[Held[T]]) -> Observable[Held[list[T]]]:
        flow = flow_input(source, name)

        def subscribe(
            observer: abc.ObserverBase[Held[list[T]]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            seconds = _scheduler.to_seconds
            open_windows: dict[int, tuple[list[Held[T]], abc.DisposableBase]] = {}

            def close(index: int) -> None:
                members, _ = open_windows.pop(index)
                observer.on_next(Held.gather(members))

            def closer(index: int) -> Callable[[abc.SchedulerBase, Any], None]:
                def action(_: abc.SchedulerBase, __: Any = None) -> None:
                    close(index)

                return action

            def on_next(held: Held[T]) -> None:
                at = seconds(time_of(held, _scheduler))
                now = seconds(_scheduler.now)
                first = math.floor((at - size) / every) + 1
                indices = [
                    i for i in range(first, math.floor(at / every) + 1) if i * every + size > now
                ]
                if not indices:
                    held.release()  # late: every window it belonged to has closed
                    return
                copies = [held, *(held.share() for _ in indices[1:])]
                for index, copy in zip(indices, copies, strict=True):
                    window = open_windows.get(index)
                    if window is None:
                        end = _scheduler.to_datetime(index * every + size)
                        timer = _scheduler.schedule_absolute(end, closer(index))
                        open_windows[index] = ([copy], timer)
                    else:
                        window[0].append(copy)

            def on_completed() -> None:
                for index in sorted(open_windows):
                    open_windows[index][1].dispose()
                    close(index)
                observer.on_completed()

            def dispose() -> None:
                for _, timer in open_windows.values():
                    timer.dispose()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, Disposable(dispose))

        return derived(flow, subscribe, label)

    return _operator
