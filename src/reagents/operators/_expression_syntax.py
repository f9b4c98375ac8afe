"""The syntax of the ``where("...")`` language: its AST and recursive-descent parser.

`Parser` turns the text (tokenized by `tokenize`) into an `Expression` tree or raises
`FilterSyntaxError` with the 0-based position and what was expected there. The
language itself, and the compiler, are in `reagents.operators.expression`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from reagents.errors import FilterSyntaxError
from reagents.operators._expression_tokens import Scalar, Token, tokenize
from reagents.operators.fields import EVENT_FIELDS

__all__ = [
    "AndExpr",
    "Comparison",
    "Expression",
    "FieldRef",
    "NotExpr",
    "OrExpr",
    "Parser",
    "Truthy",
    "Value",
]


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A field path as written (``payload.symbol``) and where it starts in the text."""

    path: str
    position: int


@dataclass(frozen=True, slots=True)
class Value:
    """A literal value and where it starts in the text."""

    value: Scalar
    position: int


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field operator value``; ``negated`` for ``NOT IN``/``NOT CONTAINS``/``NOT MATCHES``."""

    field: FieldRef
    operator: str
    value: Value | tuple[Value, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class Truthy:
    """A bare field: present and truthy."""

    field: FieldRef


@dataclass(frozen=True, slots=True)
class NotExpr:
    """``NOT operand``."""

    operand: Expression


@dataclass(frozen=True, slots=True)
class AndExpr:
    """``a AND b AND ...``."""

    operands: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class OrExpr:
    """``a OR b OR ...``."""

    operands: tuple[Expression, ...]


Expression = OrExpr | AndExpr | NotExpr | Comparison | Truthy

_SEGMENT = re.compile(r"[\w-]+")
_MAX_DEPTH: Final = 64
_CHILDREN: Final = frozenset({"payload", "target_agents"})
_FIELDS: Final = ", ".join(sorted(EVENT_FIELDS)) + " or payload.<key>"
_COMPARATOR: Final = "a comparison operator (=, !=, <, <=, >, >=, IN, CONTAINS, MATCHES)"
_CONDITION: Final = "a condition (a field such as type, priority or payload.<key>), NOT or '('"
_VALUE: Final = "a value (a quoted string, a number, true, false, null or a bare word)"


class Parser:
    """Recursive descent over the tokens: or → and → not → primary → predicate."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def error(self, message: str, token: Token, expected: str | None = None) -> FilterSyntaxError:
        return FilterSyntaxError(
            message, expression=self.text, position=token.position, expected=expected
        )

    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def is_keyword(self, *words: str) -> bool:
        token = self.peek()
        return token.kind == "keyword" and token.text in words

    def parse(self) -> Expression:
        if self.peek().kind == "end":
            raise self.error("empty expression", self.peek(), "a condition such as type = alert")
        tree = self.disjunction()
        token = self.peek()
        if token.kind != "end":
            what = "unmatched ')'" if token.kind == ")" else f"unexpected {token.shown()}"
            raise self.error(what, token, "AND, OR or end of expression")
        return tree

    def disjunction(self) -> Expression:
        operands = [self.conjunction()]
        while self.is_keyword("OR"):
            self.take()
            operands.append(self.conjunction())
        return operands[0] if len(operands) == 1 else OrExpr(tuple(operands))

    def conjunction(self) -> Expression:
        operands = [self.negation()]
        while self.is_keyword("AND"):
            self.take()
            operands.append(self.negation())
        return operands[0] if len(operands) == 1 else AndExpr(tuple(operands))

    def negation(self) -> Expression:
        count = 0
        while self.is_keyword("NOT"):
            self.take()
            count += 1
        operand = self.primary()
        return NotExpr(operand) if count % 2 else operand

    def primary(self) -> Expression:
        token = self.take()
        if token.kind == "word":
            return self.predicate(_field(token, self.text))
        if token.kind != "(":
            raise self.error(f"unexpected {token.shown()}", token, _CONDITION)
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise self.error(f"more than {_MAX_DEPTH} nested parentheses", token)
        tree = self.disjunction()
        closing = self.take()
        if closing.kind != ")":
            what = (
                f"'(' at position {token.position} is never closed"
                if closing.kind == "end"
                else f"unexpected {closing.shown()}"
            )
            raise self.error(what, closing, "AND, OR or ')'")
        self.depth -= 1
        return tree

    def predicate(self, field: FieldRef) -> Expression:
        token = self.peek()
        if token.kind in ("end", ")") or (token.kind == "keyword" and token.text in ("AND", "OR")):
            return Truthy(field)
        self.take()
        if token.kind == "op":
            return Comparison(field, token.text, self.value())
        negated = token.kind == "keyword" and token.text == "NOT"
        if negated:
            token = self.take()
        if token.kind == "keyword" and token.text == "IN":
            return Comparison(field, "IN", self.values(), negated)
        if token.kind == "keyword" and token.text in ("CONTAINS", "MATCHES"):
            return Comparison(field, token.text, self.value(), negated)
        expected = "IN, CONTAINS or MATCHES after NOT" if negated else _COMPARATOR
        raise self.error(f"unexpected {token.shown()} after field {field.path!r}", token, expected)

    def value(self) -> Value:
        token = self.take()
        if token.kind in ("string", "number", "word", "constant"):
            return Value(token.value, token.position)
        message = f"unexpected {token.shown()}"
        if token.kind == "keyword":
            message += f" ({token.text} is a keyword: quote it to use it as text)"
        elif token.text == "=":
            message += " (equality is a single '=')"
        raise self.error(message, token, _VALUE)

    def values(self) -> tuple[Value, ...]:
        opening = self.take()
        if opening.kind != "(":
            raise self.error(f"unexpected {opening.shown()} after IN", opening, "'(' and a list")
        items = [self.value()]
        while (token := self.take()).kind == ",":
            items.append(self.value())
        if token.kind != ")":
            raise self.error(f"unexpected {token.shown()} in a list", token, "',' or ')'")
        return tuple(items)


def _field(token: Token, text: str) -> FieldRef:
    head, *rest = token.text.split(".")
    if head.lower() not in EVENT_FIELDS:
        raise FilterSyntaxError(
            f"unknown field {head!r} (a payload key is written payload.{head})",
            expression=text,
            position=token.position,
            expected=_FIELDS,
        )
    offset = token.position + len(head) + 1
    if rest and EVENT_FIELDS[head.lower()] not in _CHILDREN:
        raise FilterSyntaxError(
            f"field {head!r} has no sub-fields", expression=text, position=offset - 1
        )
    for segment in rest:
        if not _SEGMENT.fullmatch(segment) or _bad_index(segment):
            raise FilterSyntaxError(
                f"invalid key {segment!r} in field path {token.text!r}",
                expression=text,
                position=offset,
                expected="keys made of letters, digits, '_' and '-', separated by '.'",
            )
        offset += len(segment) + 1
    return FieldRef(token.text, token.position)


def _bad_index(segment: str) -> bool:
    # field_getter reads digit keys of lists with int(): keep it from raising per event.
    return segment.isdigit() and (not segment.isascii() or len(segment) > 1000)
