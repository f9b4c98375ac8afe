"""Users' regexes (`where_regex`, ``MATCHES``, JSONPath ``=~``) run on RE2, in linear time.

A pattern RE2 cannot run (backreferences, lookaround) or would misread (``{,n}``, a
count over 1000) is refused when the filter is built, with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.expression import where
from reagents.operators.filters import Filter, where_jsonpath, where_regex


def event(event_type: str = "alert", **payload: Any) -> AgentEvent:
    return AgentEvent(event_type=event_type, payload=payload)


HOSTILE_TEXT = "a" * 34 + "!"  # with Python's re, (a+)+$ takes about 2**34 steps here

CATASTROPHIC: list[tuple[Callable[[], Filter], str]] = [
    (lambda: where("payload.s MATCHES '(a+)+$'"), "a" * 34),
    (lambda: where_regex("(a+)+$", field="payload.s"), "a" * 34),
    (lambda: where_regex("(a|aa)+b"), "a" * 34 + "b"),
    (lambda: where_jsonpath('$[?(@.s =~ "^(a*)*$")]'), "a" * 34),
    (lambda: where_jsonpath('$.payload.s[?(@ =~ "(a+)+$")]'), "a" * 34),
]


@pytest.mark.timeout(10)
@pytest.mark.parametrize(("build", "matching"), CATASTROPHIC)
def test_catastrophic_backtracking_patterns_run_in_linear_time(
    build: Callable[[], Filter], matching: str
) -> None:
    rule = build()
    start = time.perf_counter()
    assert not rule.matches(event(s=HOSTILE_TEXT))
    assert rule.matches(event(s=matching))
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    ("pattern", "position", "reason"),
    [
        ("a{99999999999}", 1, "repetition {99999999999} is over 1000"),
        ("a{1001}", 1, "repetition {1001} is over 1000"),
        ("x{,3}", 1, "write {0,3} for {,3}"),
        ("x{,}", 1, "write {0,} for {,}"),
        ("(a)\\1", 3, "no backreferences"),
        ("(?P<x>a)(?P=x)", 0, "no backreferences, lookaround"),
        ("b(?=a)", 1, "lookaround"),
        ("(?<!a)b", 0, "lookaround"),
        ("(?>a+)b", 0, "atomic groups"),
        ("a*+", 1, "possessive quantifiers"),
        ("end\\Z", 3, "RE2 writes Python's \\Z as \\z"),
        ("ab(c", 2, "missing ), unterminated subpattern"),
        ("\ud800", 0, "lone surrogate"),
        ("(" * 5000, 0, "missing )"),
        # RE2 compiles such patterns in quadratic time: 20,000 repeats took it 10 s
        ("a{1,5}" * 2000, 10_000, "longer than 10000 characters"),
    ],
)
def test_patterns_re2_cannot_run_fail_at_build_time_with_the_reason(
    pattern: str, position: int, reason: str
) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where_regex(pattern)
    assert reason in caught.value.reason
    assert caught.value.position == position
    assert caught.value.expression == pattern


def test_braces_in_classes_escapes_and_plain_text_are_left_alone() -> None:
    assert where_regex("[{,3}]").matches(event(s=","))
    assert where_regex("\\{,3}").matches(event(s="{,3}"))
    assert where_regex("a{2,1000}").matches(event(s="aa"))
    assert where_regex("x{y}").matches(event(s="x{y}"))


def test_matches_in_the_where_language_points_at_the_pattern() -> None:
    with pytest.raises(FilterSyntaxError, match="lookaround") as caught:
        where("priority < 3 AND payload.s MATCHES '(?<=a)b'")
    assert caught.value.position == 35
    with pytest.raises(FilterSyntaxError, match="is over 1000"):
        where("payload.s MATCHES 'a{99999999999}'")


def test_jsonpath_regexes_fail_at_build_time_too() -> None:
    with pytest.raises(FilterSyntaxError, match="lookaround"):
        where_jsonpath('$.payload[?(@.s =~ "(?=a)")]')
    with pytest.raises(
        FilterSyntaxError, match="needs a regular expression, quoted or between slashes"
    ):
        where_jsonpath("$.payload[?(@.s =~ 3)]")


def test_case_is_ignored_as_before_on_type_and_when_asked() -> None:
    assert where("type MATCHES '^order'").matches(event("ORDER.created"))
    assert not where("payload.s MATCHES '^abc'").matches(event(s="ABC"))
    insensitive = where_regex("^stra(ss|ß)e$", field="payload.s", case_sensitive=False)
    assert insensitive.matches(event(s="STRASSE"))
    # Unicode simple case folding, as Python's re.IGNORECASE: long s, Kelvin sign
    assert where_regex("s", field="type", case_sensitive=False).matches(event("\u017f"))
    assert where_regex("k", field="type", case_sensitive=False).matches(event("\u212a"))
    assert not where_regex("k", field="type").matches(event("\u212a"))


def test_text_with_lone_surrogates_is_searched_not_an_error() -> None:
    assert where("payload.s MATCHES 'a$'").matches(event(s="\ud800a"))
    assert not where("payload.s MATCHES '^a'").matches(event(s="\udc80a"))


def test_a_match_is_found_anywhere_and_unicode_text_is_searched_by_character() -> None:
    assert where_regex("é.z", field="payload.s").matches(event(s="xxéyz"))
    assert where_regex("^.{3}$", field="payload.s").matches(event(s="日本語"))
