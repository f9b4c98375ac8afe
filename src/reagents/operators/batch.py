"""Gather values into lists of ``count``, or of whatever arrived ``within`` seconds.

``batch(2)`` and ``batch(3, within=3.0)``, one column a second::

    source:          -a-b--c-d-------e----|
    batch(2):        ---x----y------------(z|)   x = [a,b], y = [c,d], z = [e]
    batch(3, 3.0):   ----x----y---------z-|      x = [a,b], y = [c,d], z = [e]

A batch holds the receipts of all its members and emits them as one `Held` list, so
no member is acknowledged before the handler has handled the batch. A batch is sent
when it is full, when ``within`` seconds have passed since its first member, or when
the flow completes. Without ``within`` a batch waits for ``count`` members however
long that takes; a pipeline refuses such a flow when ``count`` is above its high
watermark (the sources would pause before the batch could fill).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable

from reagents.delivery import Held
from reagents.errors import check_positive
from reagents.operators._flow import FlowOperator, derived, flow_input, resolve_scheduler, seconds

__all__ = ["batch"]

T = TypeVar("T")


def batch(
    count: int, within: float | None = None, scheduler: abc.SchedulerBase | None = None
) -> FlowOperator[T, list[T]]:
    """Emit lists of up to ``count`` values, each at most ``within`` seconds after its first.

    Raises:
        ConfigurationError: at declaration, for ``count < 1`` or ``within <= 0``.
    """
    check_positive(count=count, within=within)

    def _batch(source: Observable[Held[T]]) -> Observable[Held[list[T]]]:
        flow = flow_input(source, "batch")

        def subscribe(
            observer: abc.ObserverBase[Held[list[T]]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = resolve_scheduler(scheduler, scheduler_)
            members: list[Held[T]] = []
            timer = SerialDisposable()

            def send() -> None:
                timer.disposable = None
                if members:
                    out = Held.gather(members)
                    members.clear()
                    observer.on_next(out)

            def on_timer(_: abc.SchedulerBase, __: Any = None) -> None:
                send()

            def on_next(held: Held[T]) -> None:
                members.append(held)
                if len(members) >= count:
                    send()
                elif len(members) == 1 and within is not None:
                    timer.disposable = _scheduler.schedule_relative(
                        timedelta(seconds=within), on_timer
                    )

            def on_completed() -> None:
                send()
                observer.on_completed()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, timer)

        return derived(
            flow, subscribe, _label(count, within), hold=count - 1 if within is None else 0
        )

    return _batch


def _label(count: int, within: float | None) -> str:
    return f"batch({count})" if within is None else f"batch({count}, within={seconds(within)})"
