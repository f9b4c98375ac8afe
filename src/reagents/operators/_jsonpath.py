"""JSONPath compiled once with jsonpath-ng, with filters that also test scalars.

jsonpath-ng follows RFC 9535, where ``[?(...)]`` only selects children of arrays and
objects, so ``$.priority[?(@ < 3)]`` never matches a number. Event filters are
written that way (the article does), so a filter applied to a scalar tests the
scalar itself here.

A regex after ``=~`` may be quoted (``"^A"``) or a literal between slashes, as the
reference article writes it: ``$.payload.symbol[?(@ =~ /^AAPL|MSFT|GOOGL$/)]``, with
flags ``i``, ``m``, ``s`` (``/^aapl$/i``); see `reagents.operators._regex_literal`.
"""

from __future__ import annotations

from typing import Any, Final, cast

from jsonpath_ng import DatumInContext, JSONPath
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.filter import Expression, Filter
from jsonpath_ng.ext.parser import parse
from jsonpath_ng.ext.string import Sub

from reagents.errors import FilterSyntaxError
from reagents.operators._regex import Search, compile_search
from reagents.operators._regex_literal import lift_regex_literals, lifted_pattern

__all__ = ["compile_jsonpath"]

_MAX_DEPTH: Final = 100
_CHILDREN: Final = ("left", "right", "expression", "target", "value")


class _ScalarAwareFilter(Filter):
    def find(self, datum: Any) -> list[Any]:
        wrapped = DatumInContext.wrap(datum)
        if isinstance(wrapped.value, dict | list):
            return list(super().find(datum))  # type: ignore[no-untyped-call]
        if all(expression.find(wrapped.value) for expression in self.expressions):
            return [wrapped]
        return []


class _LinearRegexExpression(Expression):
    """``@.field =~ "regex"`` with the regex run on RE2 (jsonpath-ng runs `re.search`)."""

    search: Search

    def find(self, datum: Any) -> list[Any]:
        found = self.target.find(DatumInContext.wrap(datum))
        return [item for item in found if isinstance(item.value, str) and self.search(item.value)]


def _prepare(root: JSONPath, expression: str, patterns: list[str]) -> None:
    # One pass over the tree (iterative: a hostile path may nest thousands deep):
    # bound the depth, refuse what cannot evaluate, make filters scalar-aware and
    # move regexes to RE2.
    stack: list[tuple[Any, int]] = [(root, 0)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > _MAX_DEPTH:
            raise _refuse(f"it nests more than {_MAX_DEPTH} levels deep", expression)
        if type(node).__name__.lstrip("_") == "Intersect":  # deprecated, so not imported
            raise _refuse("jsonpath-ng cannot evaluate '&' (intersection)", expression)
        if isinstance(node, Sub):
            raise _refuse("sub() runs a backtracking regex; use =~ in a filter", expression)
        if type(node) is Filter:
            node.__class__ = _ScalarAwareFilter
        if type(node) is Expression and node.op == "=~":
            _linear_regex(node, expression, patterns)
        children = [getattr(node, name, None) for name in _CHILDREN]
        children.extend(getattr(node, "expressions", ()) or ())
        stack.extend((child, depth + 1) for child in children if isinstance(child, JSONPath))


def _linear_regex(node: Expression, expression: str, patterns: list[str]) -> None:
    pattern = lifted_pattern(node.value, patterns)
    if not isinstance(pattern, str):
        raise _refuse(
            f"=~ needs a regular expression, quoted or between slashes, not {node.value!r}",
            expression,
        )
    search = compile_search(pattern, expression=expression)
    node.__class__ = _LinearRegexExpression
    cast(_LinearRegexExpression, node).search = search


def _refuse(reason: str, expression: str) -> FilterSyntaxError:
    return FilterSyntaxError(
        f"invalid JSONPath {_shown(expression)}: {reason}", expression=expression
    )


def _shown(expression: str) -> str:
    return repr(expression) if len(expression) <= 80 else repr(expression[:77]) + "..."


def compile_jsonpath(expression: str) -> JSONPath:
    """Parse ``expression`` once; raise `FilterSyntaxError` with the position if invalid.

    Also refused here rather than failing on every event: ``&`` (jsonpath-ng cannot
    evaluate it), ``sub()`` (a backtracking regex), paths nested over 100 levels,
    and a ``=~`` regex that RE2 cannot run (see `reagents.operators._regex`), or an
    unterminated ``/regex/`` literal or one with a flag other than ``i``, ``m``, ``s``.
    """
    text, patterns = lift_regex_literals(expression)
    try:
        compiled = parse(text)
    except (JSONPathError, Exception) as error:
        message = str(error) or type(error).__name__
        position = _position_of(message, expression)
        raise FilterSyntaxError(
            f"invalid JSONPath {_shown(expression)}: {message}",
            expression=expression,
            position=position,
        ) from None
    _prepare(compiled, expression, patterns)
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
