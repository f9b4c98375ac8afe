"""`each`: run an element-wise reactivex operator inside a flow, one value at a time.

``each(ops.map(f))``, ``each(ops.filter(p))``, ``each(ops.take_while(p))``... The
operator is subscribed once (so stateful ones like ``distinct`` keep their state) and
fed one value at a time; whatever it emits while handling that value carries that
value's receipts::

    source:          -a-b-c-|
    each(filter):    -a---c-|      b emitted nothing: released at once
    each(flat_map):  -(a1,a2)...   both outputs share a's receipts

An operator that emits later, on a timer (``delay``, ``debounce``, ``buffer_with_time``)
is not element-wise: it fails the flow with an error naming `each` (the operator runs
on the immediate scheduler, which refuses to wait); use the flow operators for time.
A callback that raises (``map``'s function) dead-letters that value; the operator is
subscribed again for the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.internal.exceptions import WouldBlockException
from reactivex.scheduler import ImmediateScheduler

from reagents.delivery import Held
from reagents.operators._flow import FlowOperator, derived, flow_input

__all__ = ["each"]

T = TypeVar("T")
U = TypeVar("U")


_LATER = (
    "the operator given to each() wants to emit later, not while handling one input: "
    "use the flow operators (batch, tumbling, debounce, sample, ...) for time"
)


class NotElementWiseError(RuntimeError):
    """The operator given to `each` emitted a value outside the handling of one input."""


def each(operator: Callable[[Observable[T]], Observable[U]]) -> FlowOperator[T, U]:
    """Apply an element-wise reactivex ``operator`` to the values of a flow."""

    def _each(source: Observable[Held[T]]) -> Observable[Held[U]]:
        flow = flow_input(source, "each")

        def subscribe(
            observer: abc.ObserverBase[Held[U]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            inlet: list[abc.ObserverBase[T]] = []
            outputs: list[U] = []
            handling = False
            error: Exception | None = None
            ended = False
            inner = SerialDisposable()

            def emitted(value: U) -> None:
                if not handling:
                    observer.on_error(NotElementWiseError(_LATER))
                    return
                outputs.append(value)

            def failed(exception: Exception) -> None:
                nonlocal error
                error = exception

            def finished() -> None:
                nonlocal ended
                ended = True

            def attach(
                into: abc.ObserverBase[T], _: abc.SchedulerBase | None = None
            ) -> abc.DisposableBase:
                inlet[:] = [into]
                return Disposable()

            def connect() -> None:
                nonlocal error, ended
                error, ended = None, False
                # Immediate: what the operator makes of one value comes out at once.
                inner.disposable = operator(Observable(attach)).subscribe(
                    emitted, failed, finished, scheduler=ImmediateScheduler.singleton()
                )

            def on_next(held: Held[T]) -> None:
                nonlocal handling, error
                if ended:
                    held.release()  # the operator takes no more (take, take_while)
                    return
                handling = True
                try:
                    inlet[0].on_next(held.value)
                except Exception as raised:  # raised through the operator, not to on_error
                    error = raised
                finally:
                    handling = False
                if error is not None:
                    if isinstance(error, WouldBlockException):
                        observer.on_error(NotElementWiseError(_LATER))
                        return
                    held.fail(error)
                    outputs.clear()
                    connect()
                    return
                if not outputs:
                    held.release()
                elif len(outputs) == 1:
                    value = outputs.pop()
                    observer.on_next(held.with_value(value))
                else:
                    copies = [held, *(held.share() for _ in outputs[1:])]
                    values = list(outputs)
                    outputs.clear()
                    for copy, value in zip(copies, values, strict=True):
                        observer.on_next(copy.with_value(value))

            connect()
            subscription = flow.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, inner)

        return derived(flow, subscribe, f"each({_name(operator)})")

    return _each


def _name(operator: Callable[..., Any]) -> str:
    """``map``, ``filter``...: the name of the function reactivex curried the operator from."""
    for cell in getattr(operator, "__closure__", None) or ():
        inner = cell.cell_contents
        if callable(inner) and getattr(inner, "__name__", "").endswith("_"):
            return str(inner.__name__).rstrip("_")
    qualified = getattr(operator, "__qualname__", "") or type(operator).__name__
    return qualified.split(".<locals>")[0].lstrip("_") or "operator"
