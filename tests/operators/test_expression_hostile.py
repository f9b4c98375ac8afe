"""The ``where`` language fed hostile input: a filter or `FilterSyntaxError`, nothing else.

Any text (lone surrogates, huge numbers, deep nesting, regexes built to backtrack)
compiles to a filter or fails with `FilterSyntaxError` at a position inside the text;
a compiled filter, run on events with hostile content, only ever answers a bool.
Every example is bounded in time (`tests.hostile.DEADLINE`).
"""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.expression import where
from reagents.operators.fields import EVENT_FIELDS
from reagents.operators.filters import Filter
from tests.hostile import (
    any_character,
    backtracking_text,
    hostile,
    hostile_events,
    hostile_regexes,
    hostile_strings,
)


def quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


segments = st.sampled_from(["s", "n", "l", "d", "k", "0", "1", "9" * 2000, "²", "a-b", ""])
fields = st.sampled_from(sorted(EVENT_FIELDS)) | st.lists(segments, min_size=1, max_size=150).map(
    lambda path: "payload." + ".".join(path)
)
numbers = st.sampled_from(["1e999", "-1e999", "-0", ".5", "1.2.3", "9" * 5000, "0x10"]) | (
    st.integers().map(str)
)
values = (
    hostile_strings.map(quoted)
    | hostile_regexes.map(quoted)
    | numbers
    | st.sampled_from(["true", "null", "order.*", "*a*a*a*a*a*a*b", "'[!]'", "x"])
)
operators = st.sampled_from(
    ["=", "!=", "<", "<=", ">", ">=", "CONTAINS", "NOT CONTAINS", "MATCHES", "NOT MATCHES", "IN"]
)


@st.composite
def conditions(draw: st.DrawFn) -> str:
    field, op = draw(fields), draw(operators)
    if op == "IN":
        negation = "NOT " if draw(st.booleans()) else ""
        listed = ", ".join(draw(st.lists(values, min_size=1, max_size=3)))
        return f"{field} {negation}IN ({listed})"
    return f"{field} {op} {draw(values)}"


expressions = st.recursive(
    conditions() | fields,
    lambda inner: (
        st.builds(lambda a, k, b: f"{a} {k} {b}", inner, st.sampled_from(["AND", "OR"]), inner)
        | inner.map(lambda e: f"NOT ({e})")
        | st.integers(1, 80).map(lambda depth: "(" * depth + "type = a" + ")" * depth)
    ),
    max_leaves=6,
)
tokens = st.sampled_from(["AND", "OR", "NOT", "(", ")", ",", "IN", "=", "'", '"', "''", "!"])
soup = st.lists(tokens | values | fields, max_size=12).map(" ".join)


def compiles_or_reports(text: str, events: list[AgentEvent]) -> None:
    outcome: Filter | FilterSyntaxError
    try:
        outcome = where(text)
    except FilterSyntaxError as error:
        outcome = error
    if isinstance(outcome, FilterSyntaxError):
        assert outcome.position is None or 0 <= outcome.position <= len(text)
        assert outcome.reason
        event("refused with FilterSyntaxError")
        return
    event("compiled")
    for hostile_event in events:  # evaluation never raises, and answers a bool
        matched = outcome.matches(hostile_event)
        assert isinstance(matched, bool)
        event(f"evaluated: {matched}")


@hostile(300)
@given(st.text(any_character, max_size=120), st.lists(hostile_events, max_size=2))
def test_hostile_text_compiles_or_fails_typed(text: str, events: list[AgentEvent]) -> None:
    compiles_or_reports(text, events)


@hostile(300)
@given(soup, st.lists(hostile_events, max_size=2))
def test_hostile_token_soup_compiles_or_fails_typed(text: str, events: list[AgentEvent]) -> None:
    compiles_or_reports(text, events)


@hostile(400)
@given(expressions, st.lists(hostile_events, min_size=1, max_size=3))
def test_hostile_expressions_evaluate_on_hostile_events_without_raising(
    text: str, events: list[AgentEvent]
) -> None:
    compiles_or_reports(text, events)


@hostile(300)
@given(hostile_regexes, backtracking_text, st.booleans())
def test_hostile_regexes_in_matches_run_in_bounded_time(
    pattern: str, text: str, on_type: bool
) -> None:
    field = "type" if on_type else "payload.s"
    hostile_event = AgentEvent(event_type=text.strip() or "x", payload={"s": text})
    compiles_or_reports(f"{field} MATCHES {quoted(pattern)}", [hostile_event])
