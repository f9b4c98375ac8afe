"""`by_key`: one sub-flow per key (symbol, user, conversation), the outputs merged.

``by_key(lambda e: e.payload["symbol"], tumbling(1.0))``: a one-second window per
symbol. A value's receipts stay in its key's sub-flow, so one key's output never
releases another key's inputs::

    source:   -a1-b1-a2--b2-|       (letter = key)
    by_key(k, batch(2)):
    result:   ------x----y--|       x = [a1,a2], y = [b1,b2]

At most ``max_keys`` keys are open; opening one more completes the least recently
used key's sub-flow first (its windows are flushed, not lost). A pipeline multiplies
what the inner flow may hold by ``max_keys`` when it checks the flow against its
watermarks, so count-only batches per key need a ``max_keys`` that fits. A key
function that raises dead-letters that value.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.operators._flow import Flow, FlowContext, FlowOperator, Inlet, derived, flow_input

__all__ = ["by_key"]

T = TypeVar("T")
U = TypeVar("U")


class _NoSideInputs(FlowContext):
    def side_input(self, subscription: object, name: str) -> Observable[Held[Any]]:
        raise ConfigurationError(
            f"{name}() inside by_key(...) is not supported: put it before by_key "
            "(the pairs then go to each key's sub-flow)"
        )


def by_key(
    key: Callable[[T], Hashable], *inner: FlowOperator[Any, Any], max_keys: int = 1_000
) -> FlowOperator[T, U]:
    """Split by ``key(value)``; run ``inner`` per key; merge what the keys emit."""
    if max_keys < 1:
        raise ConfigurationError(f"max_keys must be >= 1, got {max_keys}")
    probe: Observable[Held[Any]] = Flow(Inlet().subscribe, context=_NoSideInputs())
    probe = probe.pipe(*inner)
    if not isinstance(probe, Flow):
        flow_input(probe, "by_key")  # raises, naming the problem
    inner_hold = probe.hold  # type: ignore[attr-defined]
    label = f"by_key({getattr(key, '__name__', 'key')}: {' → '.join(probe.steps)})"  # type: ignore[attr-defined]

    def _by_key(source: Observable[Held[T]]) -> Observable[Held[U]]:
        flow = flow_input(source, "by_key")

        def subscribe(
            observer: abc.ObserverBase[Held[U]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            groups: OrderedDict[Hashable, Inlet] = OrderedDict()
            closing: set[Inlet] = set()  # completed, still sending (a throttle's queue)
            subscriptions: dict[Inlet, abc.DisposableBase] = {}
            source_done = [False]

            def finished(inlet: Inlet) -> None:
                closing.discard(inlet)
                ended = subscriptions.pop(inlet, None)  # a finished key keeps no chain
                if ended is not None:
                    ended.dispose()
                if source_done[0] and not groups and not closing:
                    observer.on_completed()

            def open_group(group_key: Hashable) -> Inlet:
                inlet = Inlet()
                chain: Observable[Held[Any]] = Flow(inlet.subscribe, context=flow.context)
                groups[group_key] = inlet
                subscriptions[inlet] = chain.pipe(*inner).subscribe(
                    observer.on_next,
                    observer.on_error,
                    lambda: finished(inlet),
                    scheduler=scheduler_,
                )
                if len(groups) > max_keys:
                    close_group(next(iter(groups)))
                return inlet

            def close_group(group_key: Hashable) -> None:
                # Out of `groups` first: the key's next value opens a fresh sub-flow
                # even while this one is still sending what it held.
                inlet = groups.pop(group_key)
                closing.add(inlet)
                if inlet.observer is not None:
                    inlet.observer.on_completed()

            def on_next(held: Held[T]) -> None:
                try:
                    group_key = key(held.value)
                    inlet = groups.get(group_key)  # an unhashable key raises here
                except Exception as error:
                    held.fail(error)
                    return
                if inlet is None:
                    inlet = open_group(group_key)
                else:
                    groups.move_to_end(group_key)
                if inlet.observer is not None:
                    inlet.observer.on_next(held)

            def on_completed() -> None:
                source_done[0] = True
                for group_key in list(groups):
                    close_group(group_key)
                if not groups and not closing:
                    observer.on_completed()

            def dispose() -> None:
                for subscription in list(subscriptions.values()):
                    subscription.dispose()

            subscription = flow.subscribe(
                on_next, observer.on_error, on_completed, scheduler=scheduler_
            )
            return CompositeDisposable(subscription, Disposable(dispose))

        return derived(flow, subscribe, label, hold=inner_hold * max_keys)

    return _by_key
