"""`distinct_until_changed`: drop a value whose key equals the previous value's key.

``distinct_until_changed(key=lambda e: e.payload["state"])``::

    source:  -a-a-b-b-a-|      (letters are states)
    result:  -a---b---a-|      repeats are released at once

A key function that raises dead-letters that value; the comparison goes on with the
previous key.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from reactivex import Observable, abc

from reagents.delivery import Held
from reagents.operators._flow import FlowOperator, derived, flow_input

__all__ = ["distinct_until_changed"]

T = TypeVar("T")


def _identity(value: Any) -> Any:
    return value


def distinct_until_changed(key: Callable[[T], Hashable] = _identity) -> FlowOperator[T, T]:
    """Values whose ``key`` differs from the one before (every first value passes)."""

    def _distinct(source: Observable[Held[T]]) -> Observable[Held[T]]:
        flow = flow_input(source, "distinct_until_changed")

        def subscribe(
            observer: abc.ObserverBase[Held[T]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            previous: list[Hashable] = []

            def on_next(held: Held[T]) -> None:
                try:
                    current = key(held.value)
                    repeated = bool(previous) and bool(previous[0] == current)
                except Exception as error:
                    held.fail(error)
                    return
                if repeated:
                    held.release()
                    return
                previous[:] = [current]
                observer.on_next(held)

            return flow.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )

        return derived(flow, subscribe, "distinct_until_changed")

    return _distinct
