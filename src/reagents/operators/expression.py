"""The ``where("...")`` language: a small, CloudEvents-SQL-like filter, compiled once.

``where(text)`` parses the text into an AST (`parse_expression`) and compiles that
into a tree of `Filter` values, so evaluating an event is a call to plain closures,
never a walk over the AST. ``type = x`` and ``type = prefix*`` become `where_type`
filters, which lets a router index the subscription by event type::

    --alert(p1)--alert(p5)--metric(p1)--|   where("type = alert AND priority < 3")
    --alert(p1)-------------------------|

Syntax (keywords are case-insensitive; precedence NOT > AND > OR; parentheses group):

- a condition is ``field OP value``, ``field [NOT] IN (v, ...)``,
  ``field [NOT] CONTAINS value``, ``field [NOT] MATCHES 'regex'`` or a bare ``field``;
  ``OP`` is one of ``=  !=  <  <=  >  >=``;
- fields are the event's names (``type``, ``source``, ``target``, ``priority``,
  ``correlation_id``, ``event_id``, ... see `EVENT_FIELDS`) and dotted paths into the
  payload (``payload.order.amount``) or the targets (``target.0``);
- values are quoted strings (``'...'`` or ``"..."``; a quote inside is doubled, as in
  SQL: ``'it''s'``; backslashes are kept as they are, so regexes read naturally),
  numbers (``3``, ``-2.5``, ``1e3``), ``true``/``false``/``null``, or bare words
  (letters, digits and ``_ . - * ? : /``, e.g. ``order.created``, ``order.*``). The
  right-hand side is always a value: ``source = target`` compares with the text
  "target".

Semantics, kept deliberately simple (two-valued; SQL's "unknown" collapses to false):

- Any comparison on a missing field is false, including ``!=``, ``= null``,
  ``NOT IN``. So ``payload.x != 1`` is false without ``payload.x``, while
  ``NOT (payload.x = 1)`` is true. An unset event attribute (``correlation_id``)
  is present with the value null: ``correlation_id != x`` is true there.
- ``=`` holds only between values of the same kind: numbers (bool is not a
  number), strings, booleans, or null with ``None``. ``!=``, ``NOT IN``,
  ``NOT CONTAINS`` and ``NOT MATCHES`` are the exact negation of their positive form
  on a present field (``payload.n != 'a'`` is true when ``n`` is 3).
- A string value containing ``*`` or ``?`` compares with ``=``/``!=``/``IN`` as an
  fnmatch glob (``[abc]`` sets too), case-sensitive.
- ``< <= > >=`` compare numbers with numbers and strings with strings; anything
  else is false.
- ``IN (a, b)`` is ``= a OR = b``. ``CONTAINS`` is substring on strings, membership
  (``=`` without globs) on lists, key membership on objects, false otherwise.
  ``MATCHES`` searches strings (like `re.search`) with a regex compiled with `where`
  and run on RE2, in time linear in the text: backreferences, lookaround, atomic
  groups and possessive quantifiers are refused at compile time, and ``\\d``, ``\\w``,
  ``\\s``, ``\\b`` are ASCII only (see `reagents.operators._regex`).
- A bare field means "present and truthy": ``NOT payload.halted`` passes events
  without ``halted`` too.
- Text compares exactly (``=``, ``IN``, ``CONTAINS``, ``MATCHES``), as `where_content`
  and `where_regex` do by default; only ``type`` ignores case, like `where_type`
  (its values must be text). ``MATCHES '(?i)...'`` matches ignoring case.
- ``target`` is the list of addressed agents: ``target CONTAINS 'pricer'`` asks
  whether an event is addressed to ``pricer`` (``target = pricer`` is always false),
  and a bare ``target`` whether it is addressed at all.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Sequence
from typing import Any, Final

from reagents.errors import FilterSyntaxError
from reagents.operators._expression_syntax import (
    AndExpr,
    Comparison,
    Expression,
    FieldRef,
    NotExpr,
    OrExpr,
    Parser,
    Truthy,
    Value,
)
from reagents.operators._expression_tokens import Scalar, literal
from reagents.operators._regex import compile_search
from reagents.operators.fields import EVENT_FIELDS
from reagents.operators.filters import AllOf, AnyOf, FieldFilter, Filter, Not, where_type

__all__ = [
    "AndExpr",
    "Comparison",
    "Expression",
    "FieldRef",
    "NotExpr",
    "OrExpr",
    "Truthy",
    "Value",
    "parse_expression",
    "where",
]

Test = Callable[[Any], bool]

_GLOB = re.compile(r"[*?]")


def parse_expression(text: str) -> Expression:
    """Parse ``text`` into its AST; raise `FilterSyntaxError` with the position if invalid."""
    return Parser(text).parse()


# ---------------------------------------------------------------------------- compiler


def where(expression: str) -> Filter:
    """Compile a ``where`` expression into a `Filter` (see the module docs for the language).

    Raises `FilterSyntaxError` (and nothing else) with the 0-based position of the
    problem and what was expected there.
    """
    return _compile(parse_expression(expression), expression)


def _compile(node: Expression, text: str) -> Filter:
    if isinstance(node, OrExpr):
        return AnyOf(*(_compile(operand, text) for operand in node.operands))
    if isinstance(node, AndExpr):
        return AllOf(*(_compile(operand, text) for operand in node.operands))
    if isinstance(node, NotExpr):
        return Not(_compile(node.operand, text))
    if isinstance(node, Truthy):
        return FieldFilter(node.field.path, bool, node.field.path)
    return _comparison(node, text)


def _comparison(node: Comparison, text: str) -> Filter:
    values = node.value if isinstance(node.value, tuple) else (node.value,)
    path = node.field.path
    is_type = "." not in path and EVENT_FIELDS[path.lower()] == "event_type"
    if is_type:
        for item in values:
            if not isinstance(item.value, str):
                raise FilterSyntaxError(
                    "event types are text: quote the value", expression=text, position=item.position
                )
    negated = node.negated or node.operator == "!="
    if is_type and node.operator in ("=", "!=", "IN"):
        positive = _any_filter([_type_equals(path, str(item.value)) for item in values])
        return Not(positive) if negated else positive
    test = _test(node.operator, values, is_type, text)
    return FieldFilter(path, _negate(test) if negated else test, _render(node))


def _negate(test: Test) -> Test:
    return lambda value: not test(value)


def _any_filter(filters: Sequence[Filter]) -> Filter:
    return filters[0] if len(filters) == 1 else AnyOf(*filters)


def _type_equals(path: str, pattern: str) -> Filter:
    body = pattern[:-1] if pattern.endswith("*") else pattern
    if pattern and "[" not in pattern and not _GLOB.search(body):
        return where_type(pattern)  # exact or prefix*: indexable by a router
    return FieldFilter(path, _equals(pattern, fold=True), f"{path} = {literal(pattern)}")


def _test(op: str, values: tuple[Value, ...], fold: bool, text: str) -> Test:
    literal = values[0].value
    if op in ("=", "!="):
        return _equals(literal, fold)
    if op == "IN":
        return _member(tuple(item.value for item in values), fold)
    if op == "CONTAINS":
        return _contains(literal, fold)
    if op == "MATCHES":
        return _matches(values[0], fold, text)
    return _ordering(op, values[0], fold, text)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equals(literal: Scalar, fold: bool, glob: bool = True) -> Test:
    if literal is None:
        return lambda value: value is None
    if isinstance(literal, bool):
        return lambda value: isinstance(value, bool) and value == literal
    if not isinstance(literal, str):
        return lambda value: _is_number(value) and value == literal
    if glob and _GLOB.search(literal):
        norm: Callable[[str], str] = str.casefold if fold else str
        match = re.compile(fnmatch.translate(norm(literal)), re.DOTALL).match
        return lambda value: isinstance(value, str) and match(norm(value)) is not None
    if fold:
        folded = literal.casefold()
        return lambda value: isinstance(value, str) and value.casefold() == folded
    return lambda value: isinstance(value, str) and value == literal


def _member(literals: tuple[Scalar, ...], fold: bool) -> Test:
    if all(isinstance(item, str) and not _GLOB.search(item) for item in literals):
        if fold:
            folded = frozenset(str(item).casefold() for item in literals)
            return lambda value: isinstance(value, str) and value.casefold() in folded
        keys = frozenset(literals)
        return lambda value: isinstance(value, str) and value in keys
    tests = tuple(_equals(item, fold) for item in literals)
    return lambda value: any(test(value) for test in tests)


def _contains(literal: Scalar, fold: bool) -> Test:
    member = _equals(literal, fold=False, glob=False)
    needle = literal.casefold() if fold and isinstance(literal, str) else literal

    def test(value: Any) -> bool:
        if isinstance(value, str):
            return isinstance(needle, str) and needle in (value.casefold() if fold else value)
        if isinstance(value, list | tuple):
            return any(member(item) for item in value)
        return isinstance(value, dict) and isinstance(literal, str) and literal in value

    return test


def _matches(item: Value, fold: bool, text: str) -> Test:
    if not isinstance(item.value, str):
        raise FilterSyntaxError(
            "MATCHES needs a regular expression",
            expression=text,
            position=item.position,
            expected="a quoted regular expression",
        )
    search = compile_search(
        item.value, case_sensitive=not fold, expression=text, position=item.position
    )
    return lambda value: isinstance(value, str) and search(value)


_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _ordering(op: str, item: Value, fold: bool, text: str) -> Test:
    compare, literal = _ORDER[op], item.value
    if isinstance(literal, str):
        bound = literal.casefold() if fold else literal
        if fold:
            return lambda value: isinstance(value, str) and compare(value.casefold(), bound)
        return lambda value: isinstance(value, str) and compare(value, bound)
    if literal is None or isinstance(literal, bool):
        raise FilterSyntaxError(
            f"{op} compares numbers or strings",
            expression=text,
            position=item.position,
            expected="a number or a string",
        )
    return lambda value: _is_number(value) and compare(value, literal)


def _render(node: Comparison) -> str:
    keyword = f"NOT {node.operator}" if node.negated else node.operator
    if isinstance(node.value, tuple):
        listed = ", ".join(literal(item.value) for item in node.value)
        return f"{node.field.path} {keyword} ({listed})"
    return f"{node.field.path} {keyword} {literal(node.value.value)}"
