"""`Filter`, its boolean algebra (``&``, ``|``, ``~``) and the two constant filters.

Combining filters flattens nested `AllOf`/`AnyOf` and compiles the children's
predicates into one closure, so a deep tree costs a few calls per event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any, overload

from reactivex import Observable, abc
from reactivex import operators as ops

from reagents.delivery import Held
from reagents.events import AgentEvent
from reagents.operators._flow import Flow, derived
from reagents.operators._typeset import ANY_TYPE, TypeSet

__all__ = ["AllOf", "AnyOf", "Filter", "Not", "Predicate", "addressed_only", "any_event"]

Predicate = Callable[[AgentEvent], bool]


class Filter:
    """A predicate on `AgentEvent` that is also an Rx operator and a composable value."""

    __slots__ = ("predicate",)

    predicate: Predicate
    """The compiled test, built once; call it directly on hot paths."""

    def __init__(self, predicate: Predicate) -> None:
        self.predicate = predicate

    def matches(self, event: AgentEvent) -> bool:
        """Whether ``event`` passes this filter."""
        return self.predicate(event)

    def accepted_types(self) -> TypeSet:
        """The event types this filter can ever accept (for indexing subscriptions)."""
        return ANY_TYPE

    @property
    def passes_all(self) -> bool:
        """True if every event passes (a router then need not ask the predicate)."""
        return False

    def describe(self) -> str:
        """A short human-readable form, used in graphs and error messages."""
        return type(self).__name__

    @overload
    def __call__(self, source: Flow[AgentEvent]) -> Flow[AgentEvent]: ...

    @overload
    def __call__(self, source: Observable[AgentEvent]) -> Observable[AgentEvent]: ...

    def __call__(self, source: Observable[Any]) -> Observable[Any]:
        """Keep the events this filter matches; in a flow, release the others at once."""
        if isinstance(source, Flow):
            return _filter_flow(source, self.predicate, self.describe())
        return source.pipe(ops.filter(self.predicate))

    def __and__(self, other: Filter) -> Filter:
        return AllOf(self, other)

    def __or__(self, other: Filter) -> Filter:
        return AnyOf(self, other)

    def __invert__(self) -> Filter:
        return Not(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


def _filter_flow(source: Flow[AgentEvent], predicate: Predicate, label: str) -> Flow[AgentEvent]:
    def subscribe(
        observer: abc.ObserverBase[Held[AgentEvent]],
        scheduler: abc.SchedulerBase | None = None,
    ) -> abc.DisposableBase:
        def on_next(held: Held[AgentEvent]) -> None:
            try:
                accepted = predicate(held.value)
            except Exception as error:
                held.fail(error)
                return
            if accepted:
                observer.on_next(held)
            else:
                held.release()

        return source.subscribe(
            on_next, observer.on_error, observer.on_completed, scheduler=scheduler
        )

    return derived(source, subscribe, label)


class _AnyEvent(Filter):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(lambda event: True)

    @property
    def passes_all(self) -> bool:
        return True

    def describe(self) -> str:
        return "any event"


class _AddressedOnly(Filter):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(lambda event: False)

    def accepted_types(self) -> TypeSet:
        return TypeSet()

    def describe(self) -> str:
        return "only events addressed to it"


def addressed_only() -> Filter:
    """A subscription no event matches: the agent gets only events addressed to it.

    For agents that serve requests and commands (`Pipeline.request`, sagas) and should
    not see the rest of the traffic.
    """
    return _AddressedOnly()


def any_event() -> Filter:
    """A filter every event passes (the subscription of an agent that sees everything)."""
    return _AnyEvent()


class AllOf(Filter):
    """Events that pass every child filter (``a & b``)."""

    __slots__ = ("children",)

    def __init__(self, *children: Filter) -> None:
        self.children = _flatten(AllOf, children)
        super().__init__(_all(p.predicate for p in self.children))

    def accepted_types(self) -> TypeSet:
        return reduce(TypeSet.intersection, (c.accepted_types() for c in self.children))

    def describe(self) -> str:
        return " AND ".join(_group(c) for c in self.children)


class AnyOf(Filter):
    """Events that pass at least one child filter (``a | b``)."""

    __slots__ = ("children",)

    def __init__(self, *children: Filter) -> None:
        self.children = _flatten(AnyOf, children)
        super().__init__(_any(p.predicate for p in self.children))

    def accepted_types(self) -> TypeSet:
        return reduce(TypeSet.union, (c.accepted_types() for c in self.children))

    def describe(self) -> str:
        return " OR ".join(_group(c) for c in self.children)


class Not(Filter):
    """Events that fail the child filter (``~a``)."""

    __slots__ = ("child",)

    def __init__(self, child: Filter) -> None:
        self.child = child
        test = child.predicate
        super().__init__(lambda event: not test(event))

    def describe(self) -> str:
        return f"NOT {_group(self.child)}"


def _group(child: Filter) -> str:
    text = child.describe()
    return f"({text})" if isinstance(child, AllOf | AnyOf) else text


def _flatten(kind: type[AllOf] | type[AnyOf], children: Iterable[Filter]) -> tuple[Filter, ...]:
    flat: list[Filter] = []
    for child in children:
        if not isinstance(child, Filter):
            raise TypeError(f"can only combine filters, not {type(child).__name__}")
        flat.extend(child.children if type(child) is kind else (child,))
    if not flat:
        raise ValueError("a combined filter needs at least one child filter")
    return tuple(flat)


def _all(predicates: Iterable[Predicate]) -> Predicate:
    tests = tuple(predicates)
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda event: a(event) and b(event)
    if len(tests) == 3:
        a, b, c = tests
        return lambda event: a(event) and b(event) and c(event)
    return lambda event: all(test(event) for test in tests)


def _any(predicates: Iterable[Predicate]) -> Predicate:
    tests = tuple(predicates)
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda event: a(event) or b(event)
    if len(tests) == 3:
        a, b, c = tests
        return lambda event: a(event) or b(event) or c(event)
    return lambda event: any(test(event) for test in tests)
