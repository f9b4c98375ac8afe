"""The reference article's JSONPath regex literal, ``[?(@=~/^AAPL|MSFT|GOOGL$/)]``."""

from __future__ import annotations

from typing import Any

import pytest

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.filters import where_jsonpath

ARTICLE = "$.payload.symbol[?(@=~/^AAPL|MSFT|GOOGL$/)]"


def quote(**payload: Any) -> AgentEvent:
    return AgentEvent(event_type="market_data", payload=payload)


def symbols(expression: str, *values: str) -> list[str]:
    rule = where_jsonpath(expression)
    return [value for value in values if rule.matches(quote(symbol=value))]


def test_the_articles_form_keeps_the_articles_meaning() -> None:
    assert symbols(ARTICLE, "AAPL", "MSFT", "GOOGL", "TSLA", "aapl") == ["AAPL", "MSFT", "GOOGL"]
    assert not where_jsonpath(ARTICLE).matches(quote(price=1))  # no symbol: no match
    assert not where_jsonpath(ARTICLE).matches(quote(symbol=7))  # not text: no match
    assert where_jsonpath(ARTICLE).describe() == f"jsonpath {ARTICLE}"


def test_flags_and_spacing() -> None:
    assert symbols("$.payload.symbol[?(@ =~ /^aapl$/i)]", "AAPL", "aapl", "AAPLX") == [
        "AAPL",
        "aapl",
    ]
    assert symbols("$.payload.symbol[?(@ =~ /^b$/m)]", "a\nb", "ab") == ["a\nb"]
    assert symbols("$.payload.symbol[?(@ =~ /a.b/s)]", "a\nb", "ab") == ["a\nb"]
    assert symbols("$.payload.symbol[?(@ =~ /a.b/)]", "a\nb", "axb") == ["axb"]


def test_backslashes_are_kept_and_an_escaped_slash_is_a_slash() -> None:
    assert symbols(r"$.payload.symbol[?(@ =~ /^\d+$/)]", "123", "ddd") == ["123"]
    assert symbols(r"$.payload.symbol[?(@ =~ /^a\/b$/)]", "a/b", "ab") == ["a/b"]
    assert symbols("$.payload.symbol[?(@ =~ /^[/]$/)]", "/", "a") == ["/"]


def test_slashes_inside_quotes_are_left_alone() -> None:
    rule = where_jsonpath('$.payload.note[?(@ == "=~ /x/")]')
    assert rule.matches(quote(note="=~ /x/"))
    assert not rule.matches(quote(note="x"))


@pytest.mark.parametrize(
    ("expression", "reason", "position"),
    [
        ("$.a[?(@=~/abc)]", "unterminated regex literal: end it with /", 9),
        ("$.a[?(@=~/abc/g)]", "unsupported regex flag 'g': use i", 14),
        ("$.a[?(@=~//)]", "empty regex literal", 9),
        ("$.a[?(@=~/(?=a)/)]", "lookaround", None),
        ("$.payload.s[?(@ =~ /a/)] ]", "Parse error", 24),  # positions survive the literal
    ],
)
def test_a_bad_literal_is_refused_when_built_saying_where(
    expression: str, reason: str, position: int | None
) -> None:
    with pytest.raises(FilterSyntaxError, match=reason) as caught:
        where_jsonpath(expression)
    if position is not None:
        assert caught.value.position == position
