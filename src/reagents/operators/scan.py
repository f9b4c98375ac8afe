"""`scan`: running state; each value updates it and the new state goes on.

``scan(lambda total, x: total + x, seed=0)``::

    source:  -1-2-3-|
    result:  -1-3-6-|

Each output carries the receipts of the value that produced it, so an input is
released when the state it produced has been handled. The state lives in memory: after
a crash it starts again from ``seed`` with the records that were not yet acknowledged.
An accumulator that raises dead-letters that one value; the state stays as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from reactivex import Observable, abc

from reagents.delivery import Held
from reagents.operators._flow import FlowOperator, derived, flow_input

__all__ = ["scan"]

T = TypeVar("T")
S = TypeVar("S")


def scan(accumulator: Callable[[S, T], S], seed: S) -> FlowOperator[T, S]:
    """Fold each value into the state (starting at ``seed``) and send the new state."""

    def _scan(source: Observable[Held[T]]) -> Observable[Held[S]]:
        flow = flow_input(source, "scan")

        def subscribe(
            observer: abc.ObserverBase[Held[S]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            state = [seed]

            def on_next(held: Held[T]) -> None:
                try:
                    state[0] = accumulator(state[0], held.value)
                except Exception as error:
                    held.fail(error)
                    return
                observer.on_next(held.with_value(state[0]))

            return flow.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )

        return derived(flow, subscribe, "scan")

    return _scan
