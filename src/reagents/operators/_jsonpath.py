"""JSONPath compiled once with jsonpath-ng, with filters that also test scalars.

jsonpath-ng follows RFC 9535, where ``[?(...)]`` only selects children of arrays and
objects, so ``$.priority[?(@ < 3)]`` never matches a number. Event filters are
written that way (the article does), so a filter applied to a scalar tests the
scalar itself here.
"""

from __future__ import annotations

import re
from typing import Any

from jsonpath_ng import DatumInContext, JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.filter import Filter
from jsonpath_ng.ext.parser import parse

from reagents.errors import FilterSyntaxError

__all__ = ["compile_jsonpath"]


class _ScalarAwareFilter(Filter):
    def find(self, datum: Any) -> list[Any]:
        wrapped = DatumInContext.wrap(datum)
        if isinstance(wrapped.value, dict | list):
            return list(super().find(datum))  # type: ignore[no-untyped-call]
        if all(expression.find(wrapped.value) for expression in self.expressions):
            return [wrapped]
        return []


def _make_filters_scalar_aware(node: Any, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if type(node) is Filter:
        node.__class__ = _ScalarAwareFilter
    if getattr(node, "op", None) == "=~" and isinstance(getattr(node, "value", None), str):
        re.compile(node.value)  # a bad regex fails here, at build time, not per event
    for name in ("left", "right", "expression", "target"):
        child = getattr(node, name, None)
        if isinstance(child, JSONPath):
            _make_filters_scalar_aware(child, seen)
    for child in getattr(node, "expressions", ()) or ():
        _make_filters_scalar_aware(child, seen)


def compile_jsonpath(expression: str) -> JSONPath:
    """Parse ``expression`` once; raise `FilterSyntaxError` with the position if invalid."""
    try:
        compiled = parse(expression)
    except (JSONPathError, Exception) as error:
        message = str(error) or type(error).__name__
        position = _position_of(message, expression)
        raise FilterSyntaxError(
            f"invalid JSONPath {expression!r}: {message}",
            expression=expression,
            position=position,
        ) from None
    try:
        _make_filters_scalar_aware(compiled, set())
    except re.error as error:
        raise FilterSyntaxError(
            f"invalid regular expression in JSONPath {expression!r}: {error.msg}",
            expression=expression,
        ) from None
    return compiled


def _position_of(message: str, expression: str) -> int | None:
    # jsonpath-ng reports "Parse error at LINE:COL near token ..." (1-based column).
    marker = " at "
    if "end of string" in message:
        return len(expression)
    if marker not in message:
        return None
    location = message.split(marker, 1)[1].split(" ", 1)[0]
    line, _, column = location.partition(":")
    if not (line.isdigit() and column.isdigit()) or line != "1":
        return None
    return min(max(int(column) - 1, 0), len(expression))
