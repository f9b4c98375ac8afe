"""Subscription filters: predicates on events that compose and are Rx operators too.

A `Filter` is a value: ``where_type("market_data") & ~where_content("test")`` builds
a tree that a router can inspect (`Filter.accepted_types`) to index subscriptions by
event type, and that compiles once into a single predicate. Calling a filter on an
observable filters it, so it also drops straight into ``.pipe(...)``::

    --a--b--c--|   where_type("a*")
    --a--------|

Case, one rule for every filter: text is compared exactly (case-sensitive) by
`where_content`, `where_regex`, `where_jsonpath`'s ``=~`` and the ``where`` language's
``=``, ``IN``, ``CONTAINS`` and ``MATCHES``; only the event type, an identifier, ignores
case everywhere (`where_type`, ``type = ...``). To ignore case, say so:
``case_sensitive=False`` (`where_content`, `where_regex`), ``(?i)`` at the start of a
regex (``MATCHES '(?i)volatility'``, ``=~ "(?i)^aapl$"``) or ``/^aapl$/i`` in a
JSONPath; ``where_type(..., case_sensitive=True)`` for an exact type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reagents.errors import FilterEvaluationError, FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators._filter_base import (
    AllOf,
    AnyOf,
    Filter,
    Not,
    addressed_only,
    any_event,
)
from reagents.operators._filter_base import (
    Predicate as Predicate,
)
from reagents.operators._jsonpath import compile_jsonpath
from reagents.operators._regex import compile_search
from reagents.operators._typeset import ANY_TYPE as ANY_TYPE
from reagents.operators._typeset import TypeSet
from reagents.operators.fields import MISSING, field_getter

__all__ = [
    "AllOf",
    "AnyOf",
    "ContentFilter",
    "FieldFilter",
    "Filter",
    "JsonPathFilter",
    "Not",
    "RegexFilter",
    "TypeFilter",
    "TypeSet",
    "addressed_only",
    "any_event",
    "where_content",
    "where_field",
    "where_jsonpath",
    "where_regex",
    "where_type",
]


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

    @property
    def passes_all(self) -> bool:
        return self.pattern == "*"

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

    def __init__(self, text: str, case_sensitive: bool = True) -> None:
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
    What jsonpath-ng raises on some data (```sorted``` over mixed types, say) comes
    out as `FilterEvaluationError`, which a pipeline counts as no match.
    """

    __slots__ = ("expression",)

    def __init__(self, expression: str) -> None:
        find = compile_jsonpath(expression).find
        self.expression = expression

        def predicate(event: AgentEvent) -> bool:
            try:
                return bool(find(event.as_dict))
            except Exception as error:
                raise FilterEvaluationError(self.describe(), event.event_id, error) from error

        super().__init__(predicate)

    def describe(self) -> str:
        return f"jsonpath {self.expression}"


class RegexFilter(Filter):
    """Events where ``pattern`` is found in a field (by default the payload's JSON text).

    The pattern runs on RE2, in time linear in the text (no backreferences or
    lookaround: see `reagents.operators._regex`); one it cannot run is refused here.
    """

    __slots__ = ("field", "pattern")

    def __init__(self, pattern: str, field: str | None = None, case_sensitive: bool = True) -> None:
        search = compile_search(pattern, case_sensitive=case_sensitive)
        self.pattern = pattern
        self.field = field
        if field is None:
            super().__init__(lambda event: search(event.payload_json))
        else:
            read = _checked_getter(field)
            super().__init__(lambda event: isinstance(value := read(event), str) and search(value))

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
        if "." in path:

            def predicate(event: AgentEvent) -> bool:
                value = read(event)
                if value is MISSING:
                    return False
                try:
                    return bool(test(value))
                except (TypeError, ValueError):
                    return False

        else:  # an attribute every event has: nothing can be missing

            def predicate(event: AgentEvent) -> bool:
                try:
                    return bool(test(read(event)))
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


def where_type(pattern: str, case_sensitive: bool = False) -> TypeFilter:
    """Events of type ``pattern`` (exact, or ``prefix*``); case-insensitive by default."""
    return TypeFilter(pattern, case_sensitive)


def where_content(text: str, case_sensitive: bool = True) -> ContentFilter:
    """Events whose payload JSON contains ``text``, exactly as written by default.

    ``case_sensitive=False`` ignores case (the article's ``content_filter`` with
    ``case_sensitive=False``), as ``(?i)`` does for `where_regex` and ``MATCHES``.
    """
    return ContentFilter(text, case_sensitive)


def where_jsonpath(expression: str) -> JsonPathFilter:
    """Events on which the JSONPath ``expression`` (over the whole event) finds a value."""
    return JsonPathFilter(expression)


def where_regex(pattern: str, field: str | None = None, case_sensitive: bool = True) -> RegexFilter:
    """Events where ``pattern`` is found in ``field`` (default: the payload's JSON text).

    RE2 syntax, run in linear time; `FilterSyntaxError` for a pattern RE2 cannot run.
    Case-sensitive, like every text filter; ``case_sensitive=False`` or a leading
    ``(?i)`` ignores case.
    """
    return RegexFilter(pattern, field, case_sensitive)


def where_field(path: str, test: Callable[[Any], bool], text: str | None = None) -> FieldFilter:
    """Events whose field ``path`` (``priority``, ``payload.a.b``) exists and passes ``test``."""
    return FieldFilter(path, test, text)
