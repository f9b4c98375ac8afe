"""Flow operators under test: receipts that record their releases, Held marbles, a runner.

A `Ledger` hands out receipts that record when they are released; `held_marbles`
makes a flow of `Held` values from a diagram; `run_flow` plays the handler (it
releases each output when it arrives) and returns what came out and when.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reactivex import Observable
from reactivex.notification import OnNext
from reactivex.observable.marbles import parse
from reactivex.testing import TestScheduler
from reactivex.testing.marbles import messages_to_records
from reactivex.testing.recorded import Recorded

from reagents.delivery import Held
from reagents.operators._flow import Flow, FlowContext, as_flow
from reagents.testing.marbles import SUBSCRIBED, TICK

__all__ = ["FlowRun", "Ledger", "held_marbles", "run_flow"]


class Ledger:
    """Receipts for flow tests: records when each one is released, shared or failed.

    Times are the scheduler's clock in seconds. ``released[name]`` lists one time per
    release; an input released exactly once has exactly one entry.
    """

    def __init__(self, scheduler: TestScheduler) -> None:
        self.scheduler = scheduler
        self.released: dict[str, list[float]] = {}
        self.failed: dict[str, list[str]] = {}
        self.holders: dict[str, int] = {}

    def held(self, name: str, value: Any) -> Held[Any]:
        """``value`` held by a fresh receipt called ``name``."""
        self.holders[name] = self.holders.get(name, 0) + 1
        return Held(value, (_TestReceipt(self, name),))

    def outstanding(self) -> list[str]:
        """Receipts still held by someone (a test ends with none)."""
        return sorted(name for name, count in self.holders.items() if count > 0)

    def _now(self) -> float:
        return float(self.scheduler.clock)


class _TestReceipt:
    __slots__ = ("ledger", "name")

    def __init__(self, ledger: Ledger, name: str) -> None:
        self.ledger = ledger
        self.name = name

    def release(self) -> None:
        ledger = self.ledger
        ledger.holders[self.name] -= 1
        if ledger.holders[self.name] < 0:
            raise AssertionError(f"receipt {self.name!r} released more often than held")
        ledger.released.setdefault(self.name, []).append(ledger._now())

    def share(self) -> None:
        self.ledger.holders[self.name] += 1

    def fail(self, error: Exception) -> None:
        self.ledger.failed.setdefault(self.name, []).append(f"{type(error).__name__}: {error}")
        self.release()


def held_marbles(
    scheduler: TestScheduler,
    diagram: str,
    values: Mapping[str, Any],
    ledger: Ledger,
    *,
    hot: bool = False,
    context: FlowContext | None = None,
) -> Flow[Any]:
    """A flow emitting ``values`` (each held by its own receipt) at the diagram's times.

    Cold by default (times count from subscription, 200 s under `TestScheduler.start`);
    ``hot=True`` places the diagram at 200 s on the scheduler's clock.
    """
    named = {c for c in diagram if c.isalnum()}
    unknown = named - set(values)
    if unknown:
        raise KeyError(f"marble diagram names values {sorted(unknown)} missing from `values`")
    lookup: dict[str | float, Any] = {name: _Name(name) for name in named}
    parsed = messages_to_records(
        parse(diagram, timespan=TICK, time_shift=SUBSCRIBED if hot else 0.0, lookup=lookup)
    )
    messages: list[Recorded[Any]] = []
    for message in parsed:
        notification = message.value
        if isinstance(notification, OnNext):
            if not isinstance(notification.value, _Name):
                raise KeyError(f"{notification.value!r} is not a value name (one letter each)")
            name = notification.value.name  # each occurrence holds a receipt of its own
            notification = OnNext(ledger.held(name, values[name]))
        messages.append(Recorded(message.time, notification))
    source = (
        scheduler.create_hot_observable(messages)
        if hot
        else scheduler.create_cold_observable(messages)
    )
    return as_flow(source, context=context)


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass
class FlowRun:
    """What a flow emitted, with the time of each value, and how it ended."""

    values: list[tuple[float, Any]] = field(default_factory=list)
    completed: float | None = None
    error: Exception | None = None


def run_flow(
    scheduler: TestScheduler,
    source: Flow[Any],
    *operators: Callable[[Any], Any],
    disposed: float = 1000.0,
) -> FlowRun:
    """Subscribe ``source.pipe(*operators)`` at 200 s, releasing each output at once.

    The subscriber acts as the handler: every value that comes out is released when it
    arrives, so a `Ledger` then shows when each input's acknowledgement went.
    """
    run = FlowRun()
    flow: Observable[Held[Any]] = source.pipe(*operators) if operators else source

    def on_next(held: Held[Any]) -> None:
        run.values.append((float(scheduler.clock), held.value))
        held.release()

    def on_error(error: Exception) -> None:
        run.error = error

    def on_completed() -> None:
        run.completed = float(scheduler.clock)

    def subscribe() -> None:
        subscriptions.append(flow.subscribe(on_next, on_error, on_completed, scheduler=scheduler))

    subscriptions: list[Any] = []
    scheduler.schedule_absolute(SUBSCRIBED, lambda *_: subscribe())
    scheduler.schedule_absolute(disposed, lambda *_: subscriptions[0].dispose())
    scheduler.advance_to(disposed + 1)
    return run
