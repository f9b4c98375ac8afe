"""What every flow operator shares: the `Flow` observable, its checks, its clock.

A flow is an Rx chain whose values are `Held` (a value plus the receipts of the
deliveries it was made from). Only operators that keep those receipts right may be in
it, so each flow operator returns a `Flow` and refuses an input that is not one: a
plain reactivex operator in the chain (``ops.delay``, ``ops.buffer_with_time``...)
loses track of acknowledgements, and the declaration fails there with what to use
instead. Element-wise reactivex operators go through `each`.

A `Flow` also says how many deliveries it may hold waiting for more input (``hold``:
a count-only batch of 100 holds up to 99), so a pipeline can refuse a flow that could
wait forever for input its watermarks will never let in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeAlias, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import Disposable
from reactivex.scheduler import TimeoutScheduler

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent

__all__ = [
    "Flow",
    "FlowContext",
    "FlowOperator",
    "FlowSpec",
    "Inlet",
    "as_flow",
    "build_flow",
    "flow_input",
    "resolve_scheduler",
    "time_of",
]

T = TypeVar("T")
U = TypeVar("U")

Subscribe: TypeAlias = Callable[
    [abc.ObserverBase[Held[Any]], abc.SchedulerBase | None], abc.DisposableBase
]


class FlowContext:
    """What a pipeline offers a flow at declaration (side inputs; see `with_latest_from`).

    The base class offers nothing: a flow declared outside a pipeline (a marble test)
    can use every operator except those that read another stream.
    """

    def side_input(self, subscription: object, name: str) -> Observable[Held[Any]]:
        """The stream of events matching ``subscription``, as `Held` values."""
        raise ConfigurationError(
            f"{name}() reads another stream of the pipeline; declare this flow on an agent "
            "of a pipeline (or give the marble test a FlowContext that provides it)"
        )


class Inlet:
    """The head of a flow: whoever subscribed last receives what is pushed."""

    __slots__ = ("observer",)

    def __init__(self) -> None:
        self.observer: abc.ObserverBase[Held[Any]] | None = None

    def subscribe(
        self, observer: abc.ObserverBase[Held[Any]], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        self.observer = observer

        def detach() -> None:
            if self.observer is observer:
                self.observer = None

        return Disposable(detach)


class Flow(Observable[Held[T]]):
    """An observable of `Held` values built only from operators that keep acks right."""

    def __init__(
        self,
        subscribe: Subscribe,
        *,
        hold: int = 0,
        context: FlowContext,
        steps: tuple[str, ...] = (),
    ) -> None:
        super().__init__(subscribe)
        self.hold = hold
        self.context = context
        self.steps = steps
        """What the chain is made of, one label per operator (graphs draw it)."""


FlowOperator: TypeAlias = Callable[[Observable[Held[T]]], Observable[Held[U]]]

FlowSpec: TypeAlias = (
    Callable[[Flow[AgentEvent]], Observable[Held[Any]]] | Sequence[FlowOperator[Any, Any]]
)
"""An agent's flow: ``lambda events: events.pipe(...)`` or a list of flow operators."""


def build_flow(spec: FlowSpec, head: Flow[AgentEvent], owner: str) -> Flow[Any]:
    """Apply ``spec`` to ``head``; refuse (ConfigurationError) what cannot keep acks."""
    if callable(spec):
        built = spec(head)
    else:
        steps = list(spec)
        for step in steps:
            if not callable(step):
                raise ConfigurationError(
                    f"agent {owner!r}: a flow step must be an operator, not {step!r}"
                )
        built = head.pipe(*steps)
    if not isinstance(built, Observable):
        raise ConfigurationError(
            f"agent {owner!r}: flow must return an observable (events.pipe(...)), "
            f"not {type(built).__name__}"
        )
    return flow_input(built, f"agent {owner!r}: the end of the flow")


def as_flow(
    source: Observable[Held[T]], *, context: FlowContext | None = None, hold: int = 0
) -> Flow[T]:
    """Treat ``source`` as a flow: its values must be `Held` (a marble test's input)."""
    if isinstance(source, Flow):
        return source

    def subscribe(
        observer: abc.ObserverBase[Held[Any]], scheduler: abc.SchedulerBase | None = None
    ) -> abc.DisposableBase:
        return source.subscribe(observer, scheduler=scheduler)

    return Flow(subscribe, hold=hold, context=context or FlowContext())


def flow_input(source: Observable[Held[T]], name: str) -> Flow[T]:
    """``source`` as a `Flow`, or the declaration error that says what went wrong."""
    if isinstance(source, Flow):
        return source
    where = f"{name}()" if name.isidentifier() else name
    raise ConfigurationError(
        f"{where} received a plain reactivex Observable, so an operator before it cannot "
        "keep acknowledgements (reactivex's time and buffer operators hold or drop values "
        "without releasing them). Use reagents.operators (batch, tumbling, hopping, "
        "session, debounce, sample, throttle_first, scan, by_key, ...) for those, and wrap "
        "element-wise reactivex operators (map, filter, take_while, ...) in each(...)"
    )


def derived(
    source: Flow[Any], subscribe: Callable[..., abc.DisposableBase], step: str, hold: int = 0
) -> Flow[Any]:
    """A flow made from ``source`` by the operator ``step``, holding ``hold`` more."""
    return Flow(
        subscribe, hold=source.hold + hold, context=source.context, steps=(*source.steps, step)
    )


def seconds(value: float) -> str:
    """A duration for a step label: ``1s``, ``0.5s``, ``5min``."""
    return f"{value / 60:g}min" if value >= 60 and value % 60 == 0 else f"{value:g}s"


def resolve_scheduler(
    given: abc.SchedulerBase | None, subscribe_time: abc.SchedulerBase | None
) -> abc.SchedulerBase:
    """The operator's scheduler, else the subscriber's, else the timeout scheduler."""
    return given or subscribe_time or TimeoutScheduler.singleton()


def time_of(held: Held[Any], scheduler: abc.SchedulerBase) -> datetime:
    """When ``held`` happened on ``scheduler``'s clock (event time reads its timestamp)."""
    clock: Callable[[Held[Any]], datetime] | None = getattr(scheduler, "time_of", None)
    return clock(held) if clock is not None else scheduler.now
