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
  ``MATCHES`` is `re.search` on strings; the regex is compiled with `where`.
- A bare field means "present and truthy": ``NOT payload.halted`` passes events
  without ``halted`` too.
- Everything on ``type`` ignores case, like `where_type`; its values must be text.
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from reagents.errors import FilterSyntaxError
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

Scalar = str | int | float | bool | None
Test = Callable[[Any], bool]


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

# ---------------------------------------------------------------------------- tokens

_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "CONTAINS", "MATCHES"})
_CONSTANTS: Final[dict[str, Scalar]] = {"TRUE": True, "FALSE": False, "NULL": None}
_WORD_CHARS = r"\w.*?:/-"
_TEXT = re.compile(r"\S")
_WORD = re.compile(rf"[{_WORD_CHARS}]+")
_NUMBER = re.compile(rf"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![{_WORD_CHARS}])")
_OPERATOR = re.compile(r"<=|>=|!=|=|<|>")
_SEGMENT = re.compile(r"[\w-]+")
_GLOB = re.compile(r"[*?]")
_MAX_DEPTH: Final = 64
_CHILDREN: Final = frozenset({"payload", "target_agents"})
_FIELDS: Final = ", ".join(sorted(EVENT_FIELDS)) + " or payload.<key>"
_COMPARATOR: Final = "a comparison operator (=, !=, <, <=, >, >=, IN, CONTAINS, MATCHES)"
_CONDITION: Final = "a condition (a field such as type, priority or payload.<key>), NOT or '('"
_VALUE: Final = "a value (a quoted string, a number, true, false, null or a bare word)"
_HINTS: Final = {"&": "AND", "|": "OR", "!": "NOT or !="}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # op ( ) , string number word keyword constant end
    text: str
    position: int
    value: Scalar = None

    def shown(self) -> str:
        return "end of expression" if self.kind == "end" else repr(self.text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = _skip_space(text, 0)
    while index < len(text):
        char = text[index]
        if char in "'\"":
            tokens.append(_string(text, index))
        elif char in "(),":
            tokens.append(_Token(char, char, index))
        elif match := _OPERATOR.match(text, index):
            tokens.append(_Token("op", match.group(), index))
        elif match := _NUMBER.match(text, index):
            tokens.append(
                _Token("number", match.group(), index, _number(match.group(), index, text))
            )
        elif match := _WORD.match(text, index):
            tokens.append(_word(match.group(), index))
        else:
            hint = _HINTS.get(char)
            raise FilterSyntaxError(
                f"unexpected character {char!r}", expression=text, position=index, expected=hint
            )
        index = _skip_space(text, index + len(tokens[-1].text))
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _skip_space(text: str, index: int) -> int:
    match = _TEXT.search(text, index)
    return match.start() if match else len(text)


def _string(text: str, start: int) -> _Token:
    quote, index = text[start], start + 1
    while (index := text.find(quote, index)) != -1:
        if text.startswith(quote, index + 1):
            index += 2
            continue
        raw = text[start : index + 1]
        return _Token("string", raw, start, raw[1:-1].replace(quote * 2, quote))
    raise FilterSyntaxError(
        "unterminated string (write a quote inside a string twice: 'it''s')",
        expression=text,
        position=start,
        expected=f"a closing {quote}",
    )


def _number(raw: str, position: int, text: str) -> int | float:
    try:
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    except ValueError:  # more digits than int() accepts
        raise FilterSyntaxError("number too long", expression=text, position=position) from None


def _word(raw: str, position: int) -> _Token:
    upper = raw.upper() if raw.isascii() else ""
    if upper in _KEYWORDS:
        return _Token("keyword", upper, position)
    if upper in _CONSTANTS:
        return _Token("constant", raw, position, _CONSTANTS[upper])
    return _Token("word", raw, position, raw)


# ---------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the tokens: or → and → not → primary → predicate."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0

    def error(self, message: str, token: _Token, expected: str | None = None) -> FilterSyntaxError:
        return FilterSyntaxError(
            message, expression=self.text, position=token.position, expected=expected
        )

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
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


def _field(token: _Token, text: str) -> FieldRef:
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


def parse_expression(text: str) -> Expression:
    """Parse ``text`` into its AST; raise `FilterSyntaxError` with the position if invalid."""
    return _Parser(text).parse()


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
    return FieldFilter(path, _equals(pattern, fold=True), f"{path} = {_literal(pattern)}")


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
    try:
        search = re.compile(item.value, re.IGNORECASE if fold else 0).search
    except (re.error, ValueError, RecursionError, OverflowError) as error:
        detail = error.msg if isinstance(error, re.error) else str(error)
        raise FilterSyntaxError(
            f"invalid regular expression: {detail}", expression=text, position=item.position
        ) from None
    return lambda value: isinstance(value, str) and search(value) is not None


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
        listed = ", ".join(_literal(item.value) for item in node.value)
        return f"{node.field.path} {keyword} ({listed})"
    return f"{node.field.path} {keyword} {_literal(node.value.value)}"


def _literal(value: Scalar) -> str:
    """``value`` written back in the language, so ``describe()`` reads like the input."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "1e999" if value > 0 else "-1e999"
    if not isinstance(value, str):
        return repr(value)
    bare = _WORD.fullmatch(value) and _word(value, 0).kind == "word" and not _NUMBER.match(value)
    return value if bare else "'" + value.replace("'", "''") + "'"
