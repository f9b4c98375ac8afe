"""`each`: run an element-wise reactivex operator inside a flow, one value at a time.

``each(ops.map(f))``, ``each(ops.filter(p))``, ``each(ops.take_while(p))``... The
operator is subscribed once (so stateful ones like ``distinct`` keep their state) and
fed one value at a time; whatever it emits while handling that value carries that
value's receipts::

    source:          -a-b-c-|
    each(filter):    -a---c-|      b emitted nothing: released at once
    each(flat_map):  -(a1,a2)...   both outputs share a's receipts

The reactivex operators known to combine, hold or time values (``buffer_with_count``,
``pairwise``, ``delay``, ``debounce``, ``to_list``...) are refused at declaration by
name, naming the flow operator to use instead. `each` cannot see inside a function that
wraps one (``lambda o: o.pipe(ops.buffer_with_count(2))``): element-wise operators
only. One that still wants a timer fails each value it gets (dead-lettered with a
`NotElementWiseError`: the operator runs on the immediate scheduler, which refuses to
wait), and the flow goes on.
A callback that raises (``map``'s function) dead-letters that value; the operator is
subscribed again for the next one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable, SerialDisposable
from reactivex.internal.exceptions import WouldBlockException
from reactivex.scheduler import ImmediateScheduler

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.operators._flow import FlowOperator, derived, flow_input

__all__ = ["each"]

T = TypeVar("T")
U = TypeVar("U")


_log = logging.getLogger(__name__)

_LATER = (
    "the operator given to each() wants to emit later, not while handling one input: "
    "use the flow operators (batch, tumbling, debounce, sample, ...) for time"
)


class NotElementWiseError(RuntimeError):
    """The operator given to `each` emitted a value outside the handling of one input."""


# reactivex operators that combine, hold or time values: what to use in a flow instead.
_NOT_ELEMENT_WISE = {
    "buffer_with_count": "batch(count)",
    "buffer_with_time": "batch(count, within=) or tumbling(size)",
    "buffer_with_time_or_count": "batch(count, within=)",
    "window_with_count": "batch(count)",
    "window_with_time": "tumbling(size) or hopping(size, every=)",
    "window_with_time_or_count": "batch(count, within=)",
    "pairwise": "scan(accumulator, seed)",
    "scan": "reagents' scan(accumulator, seed)",
    "reduce": "scan(accumulator, seed)",
    "to_iterable": "batch(count, within=)",
    "group_by": "by_key(key, *operators)",
    "delay": "debounce or throttle",
    "debounce": "reagents' debounce(duration)",
    "throttle_first": "reagents' throttle_first(duration)",
    "throttle_with_timeout": "reagents' debounce(duration)",
    "sample": "reagents' sample(interval)",
    "timeout": "an agent's timeout=",
    "skip_last": "a flow operator that holds values with their acks",
    "take_last": "a flow operator that holds values with their acks",
    "last": "a flow operator that holds values with their acks",
    "average": "scan(accumulator, seed)",
    "count": "scan(accumulator, seed)",
    "sum": "scan(accumulator, seed)",
    "max": "scan(accumulator, seed)",
    "min": "scan(accumulator, seed)",
    "min_by": "scan(accumulator, seed)",
    "max_by": "scan(accumulator, seed)",
    "to_set": "batch(count, within=)",
    "to_dict": "batch(count, within=)",
    "to_future": "batch(count, within=)",
    "buffer": "batch(count, within=)",
    "buffer_when": "batch(count, within=)",
    "buffer_toggle": "batch(count, within=)",
    "window": "tumbling(size)",
    "window_when": "tumbling(size)",
    "window_toggle": "tumbling(size)",
    "group_by_until": "by_key(key, *operators)",
    "last_or_default": "a flow operator that holds values with their acks",
    "first": "each(ops.take(1))",
    "first_or_default": "each(ops.take(1))",
    "single": "each(ops.take(1))",
    "single_or_default": "each(ops.take(1))",
    "element_at": "each(ops.skip(n)) then each(ops.take(1))",
    "element_at_or_default": "each(ops.skip(n)) then each(ops.take(1))",
    "is_empty": "scan(accumulator, seed)",
    "all": "scan(accumulator, seed)",
    "some": "scan(accumulator, seed)",
    "contains": "scan(accumulator, seed)",
    "default_if_empty": "a flow operator that holds values with their acks",
    "sequence_equal": "with_latest_from(subscription)",
    "zip": "with_latest_from(subscription)",
    "combine_latest": "reagents' combine_latest(subscription)",
    "with_latest_from": "reagents' with_latest_from(subscription)",
    "merge": "a second subscription of the agent",
    "take_until": "each(ops.take_while(predicate))",
    "skip_until": "each(ops.skip_while(predicate))",
    "start_with": "an event published to the pipeline",
    "delay_subscription": "debounce or throttle",
    "delay_with_mapper": "debounce or throttle",
}


def each(operator: Callable[[Observable[T]], Observable[U]]) -> FlowOperator[T, U]:
    """Apply an element-wise reactivex ``operator`` to the values of a flow.

    Raises:
        ConfigurationError: at declaration, for a reactivex operator known to combine,
            hold or time values (its output would not carry its inputs' acks).
    """
    name = _name(operator)
    if name in _NOT_ELEMENT_WISE:
        raise ConfigurationError(
            f"each({name}) would emit values that do not carry the acknowledgements of "
            f"the inputs they were made from: use {_NOT_ELEMENT_WISE[name]} instead"
        )

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
                if not handling:  # its input was released already: nothing to carry
                    _log.error("each(%s) emitted a value later; dropped: %s", name, _LATER)
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
                        error = NotElementWiseError(f"each({name}): {_LATER}")
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
