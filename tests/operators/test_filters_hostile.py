"""`where_regex`, `where_jsonpath` and `where_content` fed hostile input.

Building one gives a filter or `FilterSyntaxError`; running it on events with hostile
content gives a bool (a JSONPath may also raise `FilterEvaluationError`, which a
pipeline counts as no match). Every example is bounded in time: a pattern built to
backtrack runs on RE2, in linear time.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import event, given
from hypothesis import strategies as st

from reagents.errors import FilterEvaluationError, FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.filters import Filter, where_content, where_jsonpath, where_regex
from tests.hostile import (
    any_character,
    backtracking_text,
    hostile,
    hostile_events,
    hostile_regexes,
    hostile_strings,
)


def built(make: Callable[[], Filter]) -> Filter | FilterSyntaxError:
    outcome: Filter | FilterSyntaxError
    try:
        outcome = make()
    except FilterSyntaxError as error:
        outcome = error
    if isinstance(outcome, FilterSyntaxError):
        assert outcome.reason
        assert outcome.position is None or 0 <= outcome.position <= len(outcome.expression)
        event("refused with FilterSyntaxError")
    else:
        event("built")
    return outcome


def answers(rule: Filter, hostile_event: AgentEvent, *, may_fail: bool = False) -> None:
    outcome: bool | FilterEvaluationError
    try:
        outcome = rule.matches(hostile_event)
    except FilterEvaluationError as error:
        outcome = error
    if isinstance(outcome, FilterEvaluationError):
        assert may_fail, outcome
        assert outcome.__cause__ is not None
        event("evaluated: FilterEvaluationError")
    else:
        assert isinstance(outcome, bool)
        event(f"evaluated: {outcome}")


fields = st.sampled_from([None, None, "payload.s", "type", "source", "payload.l.0", "priority"])


@hostile(400)
@given(
    hostile_regexes | st.text(any_character, max_size=30),
    fields,
    st.booleans(),
    backtracking_text,
    hostile_events,
)
def test_hostile_regexes_build_typed_and_run_in_bounded_time(
    pattern: str,
    field: str | None,
    case_sensitive: bool,
    text: str,
    other: AgentEvent,
) -> None:
    rule = built(lambda: where_regex(pattern, field=field, case_sensitive=case_sensitive))
    if isinstance(rule, Filter):
        answers(rule, AgentEvent(event_type=text.strip() or "x", payload={"s": text, "l": [text]}))
        answers(rule, other)


JSONPATH_TOKENS = [
    "$", ".", "..", "*", "[", "]", "[*]", "[0]", "[-1]", "[1:3]", "[::-1]", "[?(", ")]", "(", ")",
    "@", "@.s", "@.n", "==", "!=", "<", ">=", "=~", "&", "|", "&&", "||", "!", '"x"', "'y'",
    "3", "-2.5", "payload", "priority", "event_type", "s", "l", "n", "d", "`sorted`", "`len`",
    "`keys`", "`str()`", "`this`", "`sub(/a+/, b)`", "`split(,, 0, -1)`", "/", "+", "-", " ",
    '"((a+)+)$"', '"(?=a)"', '"a{99999999999}"', "[0]" * 60, "\ud800", "`parent`", ",",
    "/^a|b$/", "/(a+)+$/i", "/[/]/", "/a\\/b/", "/x/g", "/y/ims", "=~ /", "=~/", "\\", "/i",
]  # fmt: skip


@st.composite
def jsonpath_soup(draw: st.DrawFn) -> str:
    return "".join(draw(st.lists(st.sampled_from(JSONPATH_TOKENS), max_size=12)))


@hostile(400)
@given(
    jsonpath_soup() | st.text(any_character, max_size=40),
    backtracking_text,
    hostile_events,
)
def test_hostile_jsonpaths_build_typed_and_answer_or_fail_typed(
    expression: str, text: str, other: AgentEvent
) -> None:
    rule = built(lambda: where_jsonpath(expression))
    if isinstance(rule, Filter):
        answers(
            rule,
            AgentEvent(event_type="x", payload={"s": text, "n": 1, "l": [3, "a"]}),
            may_fail=True,
        )
        answers(rule, other, may_fail=True)


@hostile(300)
@given(
    hostile_regexes | st.text(any_character, max_size=30),
    st.text("imsgx", max_size=3),
    backtracking_text,
)
def test_hostile_jsonpath_regex_literals_agree_with_where_regex(
    pattern: str, flags: str, text: str
) -> None:
    literal = built(lambda: where_jsonpath(f"$.payload.s[?(@ =~ /{pattern}/{flags})]"))
    if "/" in pattern or pattern.endswith("\\") or "unterminated" in str(literal):
        return  # the literal ends elsewhere than the pattern (a / in it): typed, checked above
    if not pattern:
        assert isinstance(literal, FilterSyntaxError)  # // is refused (it matches anything)
        return
    if set(flags) - set("ims"):
        assert isinstance(literal, FilterSyntaxError)
        assert "unsupported regex flag" in literal.reason
        return
    inline = f"(?{''.join(sorted(set(flags)))})" if flags else ""
    same = built(lambda: where_regex(inline + pattern, field="payload.s"))
    assert isinstance(literal, Filter) == isinstance(same, Filter), (literal, same)
    if isinstance(literal, Filter) and isinstance(same, Filter):
        for value in (text, pattern):
            sample = AgentEvent(event_type="x", payload={"s": value})
            assert literal.matches(sample) == same.matches(sample)


@hostile(300)
@given(hostile_strings | st.text(any_character, max_size=30), st.booleans(), hostile_events)
def test_hostile_content_filters_build_typed_and_answer(
    text: str, case_sensitive: bool, hostile_event: AgentEvent
) -> None:
    rule = built(lambda: where_content(text, case_sensitive))
    if isinstance(rule, Filter):
        answers(rule, hostile_event)
