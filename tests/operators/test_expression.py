"""The ``where("...")`` language: constructs, semantics, indexing, errors, and properties."""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.expression import (
    AndExpr,
    Comparison,
    FieldRef,
    NotExpr,
    OrExpr,
    Truthy,
    Value,
    parse_expression,
    where,
)
from reagents.operators.filters import AnyOf, Not, TypeFilter, TypeSet


def event(event_type: str = "alert", **fields: Any) -> AgentEvent:
    return AgentEvent(event_type=event_type, **fields)


def passes(expression: str, ev: AgentEvent) -> bool:
    return where(expression).matches(ev)


# ------------------------------------------------------------------- constructs


def test_design_composite_example_is_parsed_and_evaluated() -> None:
    rule = where("(type = alert AND priority < 3) OR source = monitoring")

    assert rule.matches(event("alert", priority=1))
    assert rule.matches(event("metric", priority=9, source_agent="monitoring"))
    assert not rule.matches(event("alert", priority=3))
    assert not rule.matches(event("metric", priority=1, source_agent="planner"))


def test_article_composite_without_spaces() -> None:
    rule = where("(type=alert AND priority>5) OR source=monitoring")

    assert rule.matches(event("alert", priority=6))
    assert not rule.matches(event("alert", priority=5))
    assert rule.matches(event("x", source_agent="monitoring"))


@pytest.mark.parametrize(
    ("expression", "payload", "expected"),
    [
        ("payload.symbol IN ('AAPL', 'MSFT')", {"symbol": "MSFT"}, True),
        ("payload.symbol IN ('AAPL', 'MSFT')", {"symbol": "GOOGL"}, False),
        ("payload.symbol NOT IN ('AAPL', 'MSFT')", {"symbol": "GOOGL"}, True),
        ("payload.symbol NOT IN ('AAPL', 'MSFT')", {"symbol": "AAPL"}, False),
        ("payload.n IN (1, 2.5, 'x')", {"n": 2.5}, True),
        ("payload.n IN (1, 2.5, 'x')", {"n": True}, False),
        ("NOT payload.halted", {"halted": True}, False),
        ("NOT payload.halted", {"halted": False}, True),
        ("NOT payload.halted", {}, True),
        ("payload.urgent", {"urgent": 1}, True),
        ("payload.urgent", {"urgent": ""}, False),
        ("payload.urgent", {}, False),
        ("payload.note CONTAINS 'volatility'", {"note": "high volatility ahead"}, True),
        ("payload.note CONTAINS 'volatility'", {"note": "High Volatility"}, False),
        ("payload.tags CONTAINS urgent", {"tags": ["a", "urgent"]}, True),
        ("payload.tags CONTAINS 3", {"tags": [1, 3.0]}, True),
        ("payload.tags CONTAINS 'u*'", {"tags": ["urgent"]}, False),
        ("payload.tags NOT CONTAINS urgent", {"tags": ["a"]}, True),
        ("payload CONTAINS symbol", {"symbol": 1}, True),
        ("payload.n CONTAINS 'a'", {"n": 3}, False),
        ("payload.symbol MATCHES '^A'", {"symbol": "AAPL"}, True),
        ("payload.symbol MATCHES '^A'", {"symbol": "MSFT"}, False),
        ("payload.symbol NOT MATCHES '^A'", {"symbol": "MSFT"}, True),
        ("payload.code MATCHES '^\\d+$'", {"code": "123"}, True),
        ("payload.a.b = 2", {"a": {"b": 2}}, True),
        ("payload.items.1 = 'y'", {"items": ["x", "y"]}, True),
        ("payload.x = null", {"x": None}, True),
        ("payload.x != null", {"x": 0}, True),
        ("payload.flag = true", {"flag": True}, True),
        ("payload.flag = TRUE", {"flag": 1}, False),
        ("payload.n = 1", {"n": True}, False),
        ("payload.n = 1", {"n": 1.0}, True),
        ("payload.n >= -2.5", {"n": -2}, True),
        ("payload.n < 1e3", {"n": 999}, True),
        ("payload.s > 'b'", {"s": "c"}, True),
        ("payload.s = 'it''s'", {"s": "it's"}, True),
        ('payload.s = "say ""hi"""', {"s": 'say "hi"'}, True),
        ("payload.s = 'ord*'", {"s": "order"}, True),
        ("payload.s = 'ord*'", {"s": "ORDER"}, False),
        ("payload.s = 'a?c'", {"s": "abc"}, True),
        ("payload.s != 'a?c'", {"s": "abd"}, True),
        ("payload.s = 'a[*]'", {"s": "a*"}, True),
        ("payload.s = 'a[*]'", {"s": "ab"}, False),
        ("payload.s = market_data", {"s": "market_data"}, True),
        ("payload.my-key = 1", {"my-key": 1}, True),
    ],
)
def test_payload_conditions(expression: str, payload: dict[str, Any], expected: bool) -> None:
    assert passes(expression, event(payload=payload)) is expected


def test_other_event_fields() -> None:
    ev = event(
        "order.created",
        source_agent="planner",
        target_agents=("risk", "exec"),
        correlation_id="c-1",
        event_id="e-1",
    )

    assert passes("source = planner AND correlation_id = c-1 AND event_id = 'e-1'", ev)
    assert passes("target CONTAINS risk AND target.1 = exec", ev)
    assert not passes("target = risk", ev)  # a list never equals a string
    assert passes("event_type = ORDER.CREATED AND Source_Agent = planner", ev)


def test_type_comparisons_ignore_case() -> None:
    ev = event("Order.Created")

    for expression in [
        "type = order.created",
        "type = ORDER.*",
        "type IN (x, order.CREATED)",
        "type CONTAINS 'DER.c'",
        "type MATCHES '^order'",
        "type = '*.created'",
        "type > 'ORDER.A'",
    ]:
        assert passes(expression, ev), expression
    assert not passes("type != order.created", ev)
    assert not passes("type NOT IN (order.created)", ev)


def test_precedence_not_binds_tighter_than_and_than_or() -> None:
    ev = event("a", priority=1, source_agent="s")

    # a OR (b AND c) — not (a OR b) AND c
    assert passes("type = a OR type = b AND priority > 5", ev)
    assert not passes("(type = a OR type = b) AND priority > 5", ev)
    # (NOT a) AND b — not NOT (a AND b)
    assert not passes("NOT type = a AND source = s", ev)
    assert passes("NOT (type = a AND source = x)", ev)
    assert passes("NOT NOT type = a", ev)
    assert parse_expression("NOT NOT type = a") == Comparison(
        FieldRef("type", 8), "=", Value("a", 15)
    )


@pytest.mark.parametrize(
    "expression",
    [
        "type = a and priority < 3 or source = s",
        "type = a AND priority < 3 OR source = s",
        "type = a And priority < 3 Or source = s",
        "TYPE = a aNd PRIORITY < 3 oR SOURCE = s",
    ],
)
def test_keywords_and_field_names_are_case_insensitive(expression: str) -> None:
    assert isinstance(parse_expression(expression), OrExpr)
    assert passes(expression, event("a", priority=1))
    assert not passes(expression, event("a", priority=3))
    assert passes(expression, event("b", priority=9, source_agent="s"))


def test_keyword_constants_are_case_insensitive() -> None:
    ev = event(payload={"t": True, "f": False, "z": None})

    assert passes("payload.t = True AND payload.f = FALSE AND payload.z = Null", ev)


def test_parse_expression_returns_the_ast() -> None:
    tree = parse_expression("NOT payload.halted AND (type = a OR priority IN (1, 2))")

    assert tree == AndExpr(
        (
            NotExpr(Truthy(FieldRef("payload.halted", 4))),
            OrExpr(
                (
                    Comparison(FieldRef("type", 24), "=", Value("a", 31)),
                    Comparison(FieldRef("priority", 36), "IN", (Value(1, 49), Value(2, 52)), False),
                )
            ),
        )
    )


def test_describe_reads_back_as_the_language() -> None:
    text = "(type = alert AND priority < 3) OR payload.note NOT CONTAINS 'it''s'"
    rule = where(text)

    assert rule.describe() == text
    assert (
        where("payload.symbol IN ('AAPL', 'MSFT')").describe() == "payload.symbol IN (AAPL, MSFT)"
    )
    assert where("payload.x = '3'").describe() == "payload.x = '3'"
    assert where("payload.x = 'and'").describe() == "payload.x = 'and'"
    assert where("type != x").describe() == "NOT type = x"
    assert where(rule.describe()).describe() == rule.describe()


# ------------------------------------------------------------------- semantics


@pytest.mark.parametrize(
    "expression",
    [
        "payload.gone = 1",
        "payload.gone != 1",
        "payload.gone = null",
        "payload.gone != null",
        "payload.gone < 3",
        "payload.gone IN (1, 2)",
        "payload.gone NOT IN (1, 2)",
        "payload.gone CONTAINS a",
        "payload.gone NOT CONTAINS a",
        "payload.gone MATCHES 'a'",
        "payload.gone NOT MATCHES 'a'",
        "payload.gone",
        "payload.a.b.c = 1",
    ],
)
def test_missing_fields_are_false_never_an_error(expression: str) -> None:
    assert passes(expression, event(payload={"a": {"b": 1}})) is False


def test_unset_event_attributes_are_null_not_missing() -> None:
    ev = event()  # no correlation_id

    assert passes("correlation_id = null", ev)
    assert passes("correlation_id != x", ev)
    assert not passes("correlation_id = x", ev)
    assert not passes("correlation_id", ev)


def test_not_of_a_missing_comparison_is_true() -> None:
    assert passes("NOT (payload.gone = 1)", event())
    assert not passes("payload.gone != 1", event())


@pytest.mark.parametrize(
    "expression",
    [
        "payload.s < 3",
        "payload.s >= 3",
        "payload.n > 'a'",
        "payload.n = 'a'",
        "payload.b = 1",
        "payload.b > 0",
        "payload.n MATCHES '1'",
        "payload.l = 'a'",
        "payload.l < 3",
        "timestamp > '2020-01-01'",
        "priority = '5'",
    ],
)
def test_type_mismatches_are_false(expression: str) -> None:
    assert passes(expression, event(payload={"s": "abc", "n": 1, "b": True, "l": ["a"]})) is False


def test_not_equal_is_the_negation_of_equal_on_present_fields() -> None:
    ev = event(payload={"n": 3, "s": "a"})

    assert passes("payload.n != 'a'", ev)
    assert passes("payload.s != 3", ev)
    assert not passes("payload.n != 3", ev)


def test_matches_is_a_search_not_a_full_match() -> None:
    assert passes("payload.s MATCHES 'b+'", event(payload={"s": "abbc"}))
    assert not passes("payload.s MATCHES '^b'", event(payload={"s": "abbc"}))


# ------------------------------------------------------------------- indexing


def test_type_equality_compiles_to_where_type() -> None:
    exact = where("type = market_data")
    prefix = where("type = order.*")

    assert isinstance(exact, TypeFilter)
    assert exact.pattern == "market_data"
    assert isinstance(prefix, TypeFilter)
    assert prefix.is_prefix


def test_type_star_and_empty_type() -> None:
    star = where("type = *")

    assert isinstance(star, TypeFilter)
    assert star.accepted_types().any
    assert star.matches(event("anything"))
    assert not where("type = ''").matches(event("a"))  # event types are never empty


def test_prefix_and_priority_is_indexed_by_the_prefix() -> None:
    types = where("type = order.* AND priority < 3").accepted_types()

    assert not types.any
    assert types.prefixes == {"order."}
    assert types.accepts("ORDER.created")
    assert not types.accepts("alert")


def test_type_in_is_an_exact_set() -> None:
    rule = where("type IN ('Alert', metric)")

    assert isinstance(rule, AnyOf)
    assert all(isinstance(child, TypeFilter) for child in rule.children)
    types = rule.accepted_types()
    assert types == TypeSet(exact=frozenset({"alert", "metric"}))


def test_or_with_a_non_type_branch_accepts_any_type() -> None:
    assert where("type = alert OR priority < 3").accepted_types().any
    assert not where("type = alert OR type = x.*").accepted_types().any


def test_type_not_equal_and_unindexable_globs() -> None:
    negated = where("type != alert")
    assert isinstance(negated, Not)
    assert isinstance(negated.child, TypeFilter)
    assert negated.accepted_types().any

    for glob in ["type = '*.created'", "type = 'a?c'", "type = '[ab]*'"]:
        rule = where(glob)
        assert not isinstance(rule, TypeFilter), glob
        assert rule.accepted_types().any, glob
    assert where("type = '[ab]*'").matches(event("Bcd"))


# ------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("expression", "position", "expected", "message"),
    [
        ("", 0, "a condition", "empty expression"),
        ("   ", 3, "a condition", "empty expression"),
        ("priority 3", 9, "a comparison operator (=, !=, <, <=, >, >=, IN, CONTAINS", "'3'"),
        ("payload.x NOT = 1", 14, "IN, CONTAINS or MATCHES", "unexpected '='"),
        ("type = 'abc", 7, "a closing '", "unterminated string"),
        ('type = "abc', 7, 'a closing "', "unterminated string"),
        ("(type = a AND (priority < 3)", 28, "')'", "never closed"),
        ("type = a)", 8, "end of expression", "unmatched ')'"),
        ("type = a b", 9, "AND, OR or end of expression", "unexpected 'b'"),
        ("(type = a b)", 10, "AND, OR or ')'", "unexpected 'b'"),
        ("type = a AND", 12, "a condition", "end of expression"),
        ("AND type = a", 0, "a condition", "'AND'"),
        ("3 = priority", 0, "a condition", "'3'"),
        ("type = ", 7, "a value", "end of expression"),
        ("type = in", 7, "a value", "keyword"),
        ("priority == 3", 10, "a value", "single '='"),
        ("priority IN 3", 12, "'('", "after IN"),
        ("priority IN (1 2)", 15, "',' or ')'", "in a list"),
        ("priority IN ()", 13, "a value", "')'"),
        ("priority < 3 && type = a", 13, "AND", "'&'"),
        ("priority < 3 || type = a", 13, "OR", "'|'"),
        ("symbol = AAPL", 0, "payload.<key>", "unknown field 'symbol'"),
        ("type = a OR foo.bar = 1", 12, "priority", "unknown field 'foo'"),
        ("type.sub = a", 4, None, "no sub-fields"),
        ("payload..x = 1", 8, "letters, digits", "invalid key ''"),
        ("payload.a* = 1", 8, "letters, digits", "invalid key 'a*'"),
        ("payload.x MATCHES '(unclosed'", 18, None, "invalid regular expression"),
        ("payload.x MATCHES 3", 18, "a quoted regular expression", "MATCHES"),
        ("priority < true", 11, "a number or a string", "compares numbers or strings"),
        ("priority >= null", 12, "a number or a string", "compares numbers or strings"),
        ("type = 3", 7, None, "event types are text"),
        ("type IN (a, null)", 12, None, "event types are text"),
        ("payload.x = 1" + "0" * 5000, 12, None, "number too long"),
    ],
)
def test_syntax_errors_say_where_and_what(
    expression: str, position: int, expected: str | None, message: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where(expression)

    error = caught.value
    assert error.position == position
    assert error.expression == expression
    assert message in str(error)
    if expected is None:
        assert error.expected is None
    else:
        assert error.expected is not None
        assert expected in error.expected


def test_unknown_field_lists_the_known_fields() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where("symbol = AAPL")

    assert caught.value.expected is not None
    for name in ["type", "source", "target", "priority", "correlation_id", "event_id", "payload"]:
        assert name in caught.value.expected


def test_error_message_points_at_the_problem_with_a_caret() -> None:
    with pytest.raises(FilterSyntaxError, match=r"\n  priority 3\n {11}\^"):
        where("priority 3")


def test_deep_nesting_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(FilterSyntaxError, match="nested parentheses"):
        where("(" * 500 + "type = a" + ")" * 500)
    assert passes("(" * 30 + "type = a" + ")" * 30, event("a"))
    assert passes("NOT " * 1001 + "type = b", event("a"))


# ------------------------------------------------------------------- properties

SAMPLE_EVENTS = [
    event("alert", payload={"x": 1, "s": "abc", "l": [1, "a"], "d": {"k": None}}),
    event("Order.Created", priority=1, source_agent="m", target_agents=("a",)),
]

LANGUAGE_TOKENS = [
    "type", "priority", "source", "target", "payload", "payload.x", "payload.s.t", "payload.l",
    "payload..", "foo", "type.x", "payload.l.0", "payload.l.²",
    "AND", "or", "Not", "IN", "contains", "MATCHES", "null", "TRUE", "false",
    "(", ")", ",", "=", "!=", "<", "<=", ">", ">=", "==", "&", "|", "!",
    "'a'", '"b"', "'it''s'", "'", '"', "'^a'", "'('", "'(?L)'", "'*'", "'a?'", "'[x'",
    "3", "-2.5", "1e999", ".5", "1.2.3", "order.*", "*", "x", "-", "a-b", "é", "\t", "\x00",
]  # fmt: skip


def _compiles_or_reports(text: str) -> None:
    try:
        rule = where(text)
    except FilterSyntaxError as error:
        position = error.position
        assert position is None or 0 <= position <= len(text)
        return
    for ev in SAMPLE_EVENTS:  # evaluation never raises either
        assert isinstance(rule.matches(ev), bool)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_only_ever_raises_filter_syntax_error(text: str) -> None:
    _compiles_or_reports(text)


@settings(max_examples=600, deadline=None)
@given(
    st.lists(st.sampled_from(LANGUAGE_TOKENS), max_size=14),
    st.sampled_from([" ", ""]),
)
def test_token_soup_only_ever_raises_filter_syntax_error(tokens: list[str], sep: str) -> None:
    _compiles_or_reports(sep.join(tokens))


# A generated expression tree, rendered to text, and a reference evaluator that works
# on the tree and a plain dict — independent of the parser and compiler under test.

KEYWORDS = {"AND", "OR", "NOT", "IN", "CONTAINS", "MATCHES", "TRUE", "FALSE", "NULL"}
FIELDS = ["type", "source", "priority", "payload.n", "payload.s", "payload.tags", "payload.gone"]
TYPE_WORDS = ["alert", "ALERT", "order.created", "order.*", "ord*", "*", "a?ert", "*.created", "x"]
WORDS = ["a", "abc", "B", "a*", "*c", "?b", "it's", 'say "hi"', "x y", "monitoring", "a\\d"]
REGEXES = ["^a", "c$", "b", "(?i)^A", "^[0-9]+$", "\\d", "^order"]
ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
MISSING = object()


@dataclass(frozen=True)
class Cmp:
    field: str
    op: str  # = != < <= > >= IN CONTAINS MATCHES
    values: tuple[Any, ...]
    negated: bool = False


@dataclass(frozen=True)
class Bare:
    field: str


@dataclass(frozen=True)
class Neg:
    item: Node


@dataclass(frozen=True)
class Junction:
    op: str  # AND | OR
    items: tuple[Node, ...]


Node = Cmp | Bare | Neg | Junction

numbers = st.integers(-3, 12) | st.sampled_from([2.5, -0.5, 0.0, 1e3])
scalars = st.none() | st.booleans() | numbers | st.sampled_from(WORDS)


@st.composite
def comparisons(draw: st.DrawFn) -> Node:
    field = draw(st.sampled_from(FIELDS))
    op = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "IN", "CONTAINS", "MATCHES"]))
    is_type = field == "type"
    if op == "MATCHES":
        values: tuple[Any, ...] = (draw(st.sampled_from(REGEXES)),)
    elif is_type:
        size = draw(st.integers(1, 3)) if op == "IN" else 1
        values = tuple(draw(st.lists(st.sampled_from(TYPE_WORDS), min_size=size, max_size=size)))
    elif op in ORDER:
        values = (draw(numbers | st.sampled_from(WORDS)),)
    elif op == "IN":
        values = tuple(draw(st.lists(scalars, min_size=1, max_size=3)))
    else:
        values = (draw(scalars),)
    negated = op in ("IN", "CONTAINS", "MATCHES") and draw(st.booleans())
    return Cmp(field, op, values, negated)


def extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return children.map(Neg) | st.builds(
        Junction,
        st.sampled_from(["AND", "OR"]),
        st.lists(children, min_size=2, max_size=3).map(tuple),
    )


leaves = comparisons() | st.sampled_from(FIELDS[3:]).map(Bare)
trees = st.recursive(leaves, extend, max_leaves=8)


def render_value(draw: st.DrawFn, value: Any) -> str:
    if value is None or isinstance(value, bool):
        word = {None: "null", True: "true", False: "false"}[value]
        return word.upper() if draw(st.booleans()) else word
    if not isinstance(value, str):
        return repr(value)
    bare = re.fullmatch(r"[A-Za-z_*?][\w.*?-]*", value) and value.upper() not in KEYWORDS
    if bare and draw(st.booleans()):
        return value
    quote = draw(st.sampled_from(["'", '"']))
    return quote + value.replace(quote, quote * 2) + quote


def render(draw: st.DrawFn, node: Node) -> str:
    keyword = draw(st.sampled_from([str.upper, str.lower, str.title]))
    if isinstance(node, Bare):
        text = node.field
    elif isinstance(node, Cmp):
        op = keyword(f"NOT {node.op}" if node.negated else node.op)
        if node.op == "IN":
            listed = ", ".join(render_value(draw, v) for v in node.values)
            text = f"{node.field} {op} ({listed})"
        else:
            text = f"{node.field} {op} {render_value(draw, node.values[0])}"
    elif isinstance(node, Neg):
        inner = render(draw, node.item)
        needs_group = isinstance(node.item, Junction)
        text = f"{keyword('NOT')} " + (f"({inner})" if needs_group else inner)
    else:
        parts = []
        for item in node.items:
            inner = render(draw, item)
            if isinstance(item, Junction):
                # AND binds tighter than OR: only an OR inside an AND needs parentheses.
                must = item.op == "OR" and node.op == "AND"
                inner = f"({inner})" if must or draw(st.booleans()) else inner
            parts.append(inner)
        text = f" {keyword(node.op)} ".join(parts)
    return f"({text})" if draw(st.integers(0, 5)) == 0 else text


@st.composite
def expressions(draw: st.DrawFn) -> tuple[Node, str]:
    tree = draw(trees)
    return tree, render(draw, tree)


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    payload: dict[str, Any] = {}
    optional = {
        "n": scalars | st.sampled_from([float("nan"), 1]),
        "s": st.sampled_from([*WORDS, "abbc", "1234", "Abc"]) | st.integers(0, 3),
        "tags": st.lists(scalars, max_size=3),
    }
    for key, values in optional.items():
        if draw(st.booleans()):
            payload[key] = draw(values)
    return {
        "type": draw(st.sampled_from(["alert", "Alert", "order.created", "ORDER.x", "a.created"])),
        "source": draw(st.sampled_from(["monitoring", "a", "abc", "B"])),
        "priority": draw(st.integers(1, 10)),
        "payload": payload,
    }


def lookup(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return MISSING
        value = value[key]
    return value


def is_number(value: Any) -> bool:
    return type(value) in (int, float)


def ref_equals(value: Any, literal: Any, fold: bool, glob: bool = True) -> bool:
    if literal is None:
        return value is None
    if isinstance(literal, bool):
        return isinstance(value, bool) and value == literal
    if is_number(literal):
        return is_number(value) and value == literal
    if not isinstance(value, str):
        return False
    if fold:
        value, literal = value.casefold(), literal.casefold()
    if glob and ("*" in literal or "?" in literal):
        return fnmatch.fnmatchcase(value, literal)
    return bool(value == literal)


def ref_compare(node: Cmp, data: dict[str, Any]) -> bool:
    value = lookup(data, node.field)
    if value is MISSING:
        return False
    fold, literal = node.field == "type", node.values[0]
    if node.op in ("=", "!="):
        result = ref_equals(value, literal, fold)
    elif node.op == "IN":
        result = any(ref_equals(value, v, fold) for v in node.values)
    elif node.op == "CONTAINS":
        if isinstance(value, str):
            result = isinstance(literal, str) and (
                literal.casefold() in value.casefold() if fold else literal in value
            )
        elif isinstance(value, list):
            result = any(ref_equals(item, literal, False, glob=False) for item in value)
        else:
            result = False
    elif node.op == "MATCHES":
        result = isinstance(value, str) and bool(re.search(literal, value, re.I if fold else 0))
    elif isinstance(literal, str):
        if isinstance(value, str) and fold:
            value, literal = value.casefold(), literal.casefold()
        result = isinstance(value, str) and ORDER[node.op](value, literal)
    else:
        result = is_number(value) and ORDER[node.op](value, literal)
    return not result if node.negated or node.op == "!=" else result


def reference(node: Node, data: dict[str, Any]) -> bool:
    if isinstance(node, Cmp):
        return ref_compare(node, data)
    if isinstance(node, Bare):
        value = lookup(data, node.field)
        return value is not MISSING and bool(value)
    if isinstance(node, Neg):
        return not reference(node.item, data)
    results = [reference(item, data) for item in node.items]
    return all(results) if node.op == "AND" else any(results)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.lists(events(), min_size=1, max_size=4))
def test_valid_expressions_agree_with_a_reference_evaluator(
    generated: tuple[Node, str], samples: list[dict[str, Any]]
) -> None:
    tree, text = generated
    rule = where(text)
    types = rule.accepted_types()
    for data in samples:
        ev = AgentEvent(
            event_type=data["type"],
            source_agent=data["source"],
            priority=data["priority"],
            payload=data["payload"],
        )
        expected = reference(tree, data)
        assert rule.matches(ev) is expected, (text, data)
        if expected:  # a router indexing by accepted_types() must not miss a match
            assert types.accepts(ev.event_type), (text, data)
    # describe() is the language again, with the same meaning
    again = where(rule.describe())
    for data in samples:
        ev = AgentEvent(event_type=data["type"], priority=data["priority"], payload=data["payload"])
        assert again.matches(ev) is rule.matches(ev)
