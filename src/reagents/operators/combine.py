"""Join a flow with another stream of the pipeline: `with_latest_from`, `combine_latest`.

The other stream is named by a subscription (a `where` expression or a `Filter`); the
pipeline routes the events it matches into this flow as well. Its newest event is held
(its receipt kept) until a newer one supersedes it, and every output made with it holds
it once more, so an fx rate is not acknowledged while an order priced with it waits::

    orders:                -o1---o2----o3-|
    rates ("type = fx"):   ---r1------r2--
    with_latest_from:      ------(o2,r1)-(o3,r2)|    o1 came before any rate: released

Outputs are ``(value, other_event)`` pairs. `combine_latest` also emits when the other
stream moves, pairing it with the newest value of this one.
"""

from __future__ import annotations

from typing import Any, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable

from reagents.delivery import Held
from reagents.events import AgentEvent
from reagents.operators._flow import FlowOperator, derived, flow_input

__all__ = ["combine_latest", "with_latest_from"]

T = TypeVar("T")


def with_latest_from(other: object) -> FlowOperator[T, tuple[T, AgentEvent]]:
    """Pair each value with the newest event of ``other`` (a subscription); none yet: drop."""
    return _join("with_latest_from", other, both_sides=False)


def combine_latest(other: object) -> FlowOperator[T, tuple[T, AgentEvent]]:
    """Pair the newest value with the newest event of ``other`` whenever either moves."""
    return _join("combine_latest", other, both_sides=True)


def _describe(other: object) -> str:
    describe = getattr(other, "describe", None)
    return describe() if callable(describe) else str(other)


def _pair(value: Held[Any], event: Held[AgentEvent]) -> Held[tuple[Any, AgentEvent]]:
    # The other side's receipts come first so the value's come last: the runtime takes
    # the last receipt's event as the cause of what the handler emits.
    return Held((value.value, event.value), event.receipts + value.receipts)


def _join(name: str, other: object, *, both_sides: bool) -> FlowOperator[T, tuple[T, AgentEvent]]:
    def _operator(source: Observable[Held[T]]) -> Observable[Held[tuple[T, AgentEvent]]]:
        flow = flow_input(source, name)
        side = flow.context.side_input(other, name)

        def subscribe(
            observer: abc.ObserverBase[Held[tuple[T, AgentEvent]]],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            latest: dict[str, Held[Any]] = {}

            def keep(side_name: str, held: Held[Any]) -> None:
                previous = latest.get(side_name)
                latest[side_name] = held
                if previous is not None:
                    previous.release()

            def on_value(held: Held[T]) -> None:
                event = latest.get("other")
                if event is None:
                    if both_sides:
                        keep("value", held)
                    else:
                        held.release()
                    return
                if both_sides:
                    keep("value", held.share())
                observer.on_next(_pair(held, event.share()))

            def on_other(held: Held[AgentEvent]) -> None:
                keep("other", held)
                value = latest.get("value")
                if both_sides and value is not None:
                    observer.on_next(_pair(value.share(), held.share()))

            def on_completed() -> None:
                for held in latest.values():
                    held.release()
                latest.clear()
                observer.on_completed()

            return CompositeDisposable(
                side.subscribe(on_other, observer.on_error, scheduler=scheduler_),
                flow.subscribe(on_value, observer.on_error, on_completed, scheduler=scheduler_),
            )

        return derived(flow, subscribe, f"{name}({_describe(other)})")

    return _operator
