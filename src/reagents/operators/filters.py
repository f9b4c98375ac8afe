"""Subscription filters: predicates on events that compose and are Rx operators too.

A `Filter` is a value: ``where_type("market_data") & ~where_content("test")`` builds
a tree that a router can inspect (`Filter.accepted_types`) to index subscriptions by
event type, and that compiles once into a single predicate. Calling a filter on an
observable filters it, so it also drops straight into ``.pipe(...)``::

    --a--b--c--|   where_type("a*")
    --a--------|
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import reduce
from typing import Any, Final

from reactivex import Observable
from reactivex import operators as ops

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators._jsonpath import compile_jsonpath
from reagents.operators.fields import MISSING, field_getter

__all__ = [
    "AllOf",
    "addressed_only",
    "AnyOf",
    "ContentFilter",
    "FieldFilter",
    "Filter",
    "JsonPathFilter",
    "Not",
    "RegexFilter",
    "TypeFilter",
    "TypeSet",
    "any_event",
    "where_content",
    "where_field",
    "where_jsonpath",
    "where_regex",
    "where_type",
]

Predicate = Callable[[AgentEvent], bool]


@dataclass(frozen=True)
class TypeSet:
    """The event types a filter can ever accept: exact types, prefixes, or any.

    Types are kept case-folded, so the set is a superset for case-sensitive filters:
    a router uses it to pick candidates and still runs the full filter on them.
    """

    exact: frozenset[str] = frozenset()
    prefixes: frozenset[str] = frozenset()
    any: bool = False

    def accepts(self, event_type: str) -> bool:
        """Whether an event of ``event_type`` may pass the filter this set belongs to."""
        if self.any:
            return True
        folded = event_type.casefold()
        return folded in self.exact or any(folded.startswith(p) for p in self.prefixes)

    def union(self, other: TypeSet) -> TypeSet:
        """Types accepted by either set."""
        if self.any or other.any:
            return ANY_TYPE
        return TypeSet(self.exact | other.exact, self.prefixes | other.prefixes)

    def intersection(self, other: TypeSet) -> TypeSet:
        """Types accepted by both sets."""
        if self.any:
            return other
        if other.any:
            return self
        exact = (
            (self.exact & other.exact)
            | {t for t in self.exact if _under(t, other.prefixes)}
            | {t for t in other.exact if _under(t, self.prefixes)}
        )
        prefixes = {p for p in self.prefixes if _under(p, other.prefixes)} | {
            p for p in other.prefixes if _under(p, self.prefixes)
        }
        return TypeSet(frozenset(exact), frozenset(prefixes))


def _under(value: str, prefixes: Iterable[str]) -> bool:
    return any(value.startswith(p) for p in prefixes)


ANY_TYPE: Final = TypeSet(any=True)


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

    def describe(self) -> str:
        """A short human-readable form, used in graphs and error messages."""
        return type(self).__name__

    def __call__(self, source: Observable[AgentEvent]) -> Observable[AgentEvent]:
        return source.pipe(ops.filter(self.predicate))

    def __and__(self, other: Filter) -> Filter:
        return AllOf(self, other)

    def __or__(self, other: Filter) -> Filter:
        return AnyOf(self, other)

    def __invert__(self) -> Filter:
        return Not(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"


class _AnyEvent(Filter):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(lambda event: True)

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


class TypeFilter(Filter):
    """Events whose type equals ``pattern``, or starts with it when it ends in ``*``."""

    __slots__ = ("case_sensitive", "pattern")

    def __init__(self, pattern: str, case_sensitive: bool = False) -> None:
        if not pattern:
            raise FilterSyntaxError(
                "an event type pattern must be a type or 'prefix*'", expression=pattern
            )
        if "*" in pattern[:-1]:
            raise FilterSyntaxError(
                "'*' is only allowed at the end of an event type pattern",
                expression=pattern,
                position=pattern.index("*"),
                expected="'prefix*' or an exact type",
            )
        self.pattern = pattern
        self.case_sensitive = case_sensitive
        super().__init__(_type_predicate(pattern, case_sensitive))

    @property
    def is_prefix(self) -> bool:
        """True for ``prefix*`` patterns."""
        return self.pattern.endswith("*")

    def accepted_types(self) -> TypeSet:
        if self.pattern == "*":
            return ANY_TYPE
        key = self.pattern.casefold()
        if self.is_prefix:
            return TypeSet(prefixes=frozenset({key[:-1]}))
        return TypeSet(exact=frozenset({key}))

    def describe(self) -> str:
        return f"type = {self.pattern}"


def _type_predicate(pattern: str, case_sensitive: bool) -> Predicate:
    if pattern == "*":
        return lambda event: True
    prefix = pattern.endswith("*")
    text = pattern[:-1] if prefix else pattern
    if case_sensitive:
        if prefix:
            return lambda event: event.event_type.startswith(text)
        return lambda event: event.event_type == text
    folded = text.casefold()
    if prefix:
        return lambda event: event.event_type.casefold().startswith(folded)
    return lambda event: event.event_type.casefold() == folded


class ContentFilter(Filter):
    """Events whose payload, as compact JSON text, contains ``text``."""

    __slots__ = ("case_sensitive", "text")

    def __init__(self, text: str, case_sensitive: bool = False) -> None:
        if not text:
            raise FilterSyntaxError("a content filter needs non-empty text", expression=text)
        self.text = text
        self.case_sensitive = case_sensitive
        if case_sensitive:
            super().__init__(lambda event: text in event.payload_json)
        else:
            folded = text.casefold()
            super().__init__(lambda event: folded in event.payload_json.casefold())

    def describe(self) -> str:
        return f"payload contains {self.text!r}"


class JsonPathFilter(Filter):
    """Events on which the JSONPath ``expression`` selects at least one value.

    The path runs over the whole event as JSON data, so ``$.payload.symbol`` and
    ``$.priority[?(@ < 3)]`` both work; it is parsed once, when the filter is built.
    """

    __slots__ = ("expression",)

    def __init__(self, expression: str) -> None:
        compiled = compile_jsonpath(expression)
        self.expression = expression
        super().__init__(lambda event: bool(compiled.find(event.as_dict)))

    def describe(self) -> str:
        return f"jsonpath {self.expression}"


class RegexFilter(Filter):
    """Events where ``pattern`` is found in a field (by default the payload's JSON text)."""

    __slots__ = ("field", "pattern")

    def __init__(self, pattern: str, field: str | None = None, case_sensitive: bool = True) -> None:
        try:
            regex = re.compile(pattern, 0 if case_sensitive else re.IGNORECASE)
        except re.error as error:
            raise FilterSyntaxError(
                f"invalid regular expression: {error.msg}",
                expression=pattern,
                position=error.pos,
            ) from None
        self.pattern = pattern
        self.field = field
        search = regex.search
        if field is None:
            super().__init__(lambda event: search(event.payload_json) is not None)
        else:
            read = _checked_getter(field)
            super().__init__(
                lambda event: isinstance(value := read(event), str) and search(value) is not None
            )

    def describe(self) -> str:
        target = self.field or "payload"
        return f"{target} matches /{self.pattern}/"


class FieldFilter(Filter):
    """Events whose field at ``path`` exists and passes ``test``.

    A missing field, or a test that raises `TypeError`/`ValueError` (comparing a
    string with a number, say), makes the filter false rather than failing.
    """

    __slots__ = ("path", "text")

    def __init__(self, path: str, test: Callable[[Any], bool], text: str | None = None) -> None:
        read = _checked_getter(path)

        def predicate(event: AgentEvent) -> bool:
            value = read(event)
            if value is MISSING:
                return False
            try:
                return bool(test(value))
            except (TypeError, ValueError):
                return False

        self.path = path
        self.text = text or f"{path} passes {getattr(test, '__name__', 'a test')}"
        super().__init__(predicate)

    def describe(self) -> str:
        return self.text


def _checked_getter(path: str) -> Callable[[AgentEvent], Any]:
    try:
        return field_getter(path)
    except KeyError as error:
        raise FilterSyntaxError(str(error.args[0]), expression=path, position=0) from None


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


def where_type(pattern: str, case_sensitive: bool = False) -> TypeFilter:
    """Events of type ``pattern`` (exact, or ``prefix*``); case-insensitive by default."""
    return TypeFilter(pattern, case_sensitive)


def where_content(text: str, case_sensitive: bool = False) -> ContentFilter:
    """Events whose payload JSON contains ``text``; case-insensitive by default."""
    return ContentFilter(text, case_sensitive)


def where_jsonpath(expression: str) -> JsonPathFilter:
    """Events on which the JSONPath ``expression`` (over the whole event) finds a value."""
    return JsonPathFilter(expression)


def where_regex(pattern: str, field: str | None = None, case_sensitive: bool = True) -> RegexFilter:
    """Events where ``pattern`` is found in ``field`` (default: the payload's JSON text)."""
    return RegexFilter(pattern, field, case_sensitive)


def where_field(path: str, test: Callable[[Any], bool], text: str | None = None) -> FieldFilter:
    """Events whose field ``path`` (``priority``, ``payload.a.b``) exists and passes ``test``."""
    return FieldFilter(path, test, text)
