"""Subscription filters: type, content, JSONPath, regex and field filters, and their algebra."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.errors import FilterSyntaxError
from reagents.events import AgentEvent
from reagents.operators.filters import (
    AllOf,
    AnyOf,
    Not,
    TypeSet,
    any_event,
    where_content,
    where_field,
    where_jsonpath,
    where_regex,
    where_type,
)

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


def event(event_type: str = "alert", **fields: Any) -> AgentEvent:
    return AgentEvent(event_type=event_type, **fields)


# ------------------------------------------------------------------- where_type


def test_where_type_exact_ignores_case_by_default() -> None:
    rule = where_type("Market_Data")

    assert rule.matches(event("market_data"))
    assert rule.matches(event("MARKET_DATA"))
    assert not rule.matches(event("market_data.tick"))
    assert not rule.matches(event("market"))


def test_where_type_prefix() -> None:
    rule = where_type("order.*")

    assert rule.is_prefix
    assert rule.matches(event("order.created"))
    assert rule.matches(event("ORDER.shipped"))
    assert rule.matches(event("order."))
    assert not rule.matches(event("orders"))


def test_where_type_case_sensitive() -> None:
    assert where_type("Alert", case_sensitive=True).matches(event("Alert"))
    assert not where_type("Alert", case_sensitive=True).matches(event("alert"))
    assert not where_type("Ord*", case_sensitive=True).matches(event("order"))
    # the type set stays lower-cased: a superset a router can index with
    assert where_type("Alert", case_sensitive=True).accepted_types().accepts("alert")


def test_where_type_star_is_every_event() -> None:
    rule = where_type("*")

    assert rule.matches(event("anything"))
    assert rule.accepted_types().any


def test_where_type_accepted_types() -> None:
    assert where_type("Alert").accepted_types() == TypeSet(exact=frozenset({"alert"}))
    assert where_type("Order.*").accepted_types() == TypeSet(prefixes=frozenset({"order."}))


@pytest.mark.parametrize(("pattern", "position"), [("a*b", 1), ("**", 0), ("", None)])
def test_where_type_rejects_bad_patterns(pattern: str, position: int | None) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where_type(pattern)

    assert caught.value.position == position


# ------------------------------------------------------------------- where_content


def test_where_content_searches_the_payload_text_ignoring_case_when_told() -> None:
    rule = where_content("Volatility", case_sensitive=False)

    assert rule.matches(event(payload={"note": "high volatility"}))
    assert rule.matches(event(payload={"volatility": 0.3}))
    assert not rule.matches(event("volatility", payload={"note": "calm"}))


def test_where_content_is_case_sensitive_by_default() -> None:
    rule = where_content("AAPL")

    assert rule.matches(event(payload={"symbol": "AAPL"}))
    assert not rule.matches(event(payload={"symbol": "aapl"}))


def test_where_content_needs_text() -> None:
    with pytest.raises(FilterSyntaxError):
        where_content("")


# ------------------------------------------------------------------- where_jsonpath


def test_where_jsonpath_over_the_whole_event() -> None:
    assert where_jsonpath("$.payload.symbol").matches(event(payload={"symbol": "X"}))
    assert not where_jsonpath("$.payload.symbol").matches(event(payload={"sym": "X"}))
    assert where_jsonpath("$.source_agent").matches(event())


def test_where_jsonpath_filter_on_a_scalar_field() -> None:
    rule = where_jsonpath("$.priority[?(@ < 3)]")

    assert rule.matches(event(priority=1))
    assert rule.matches(event(priority=2))
    assert not rule.matches(event(priority=3))


def test_where_jsonpath_filter_on_a_list() -> None:
    rule = where_jsonpath("$.payload.orders[?(@.qty > 2)]")

    assert rule.matches(event(payload={"orders": [{"qty": 1}, {"qty": 5}]}))
    assert not rule.matches(event(payload={"orders": [{"qty": 1}]}))
    assert not rule.matches(event(payload={"orders": [{"qty": "many"}]}))
    assert not rule.matches(event(payload={}))


@pytest.mark.parametrize(("path", "position"), [("$.a b", 3), ("$..[?(@.a <)]", 10)])
def test_where_jsonpath_bad_path_says_where(path: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where_jsonpath(path)

    assert caught.value.position == position
    assert caught.value.expression == path


def test_where_jsonpath_truncated_path_is_a_syntax_error() -> None:
    with pytest.raises(FilterSyntaxError, match="invalid JSONPath"):
        where_jsonpath("$.payload[")


def test_where_jsonpath_bad_regex_fails_at_build_time() -> None:
    with pytest.raises(FilterSyntaxError):  # today it builds, and re.error escapes per event
        where_jsonpath('$.payload.a[?(@ =~ "(")]')


@pytest.mark.filterwarnings("ignore:The `&`:DeprecationWarning")  # as outside the tests
def test_where_jsonpath_intersection_fails_at_build_time_not_on_every_event() -> None:
    with pytest.raises(FilterSyntaxError, match="cannot evaluate '&'"):
        where_jsonpath("priority.a&$.priority[?(@ < 3)]")


def test_where_jsonpath_nested_too_deep_is_a_syntax_error_not_a_crash() -> None:
    with pytest.raises(FilterSyntaxError, match="nests more than 100 levels") as caught:
        where_jsonpath("$" + "[0]" * 5000)
    assert len(str(caught.value)) < 300
    assert where_jsonpath("$.payload" + "[0]" * 90).matches(event(payload={"a": 1})) is False


def test_where_jsonpath_sub_is_refused_its_regex_would_backtrack() -> None:
    with pytest.raises(FilterSyntaxError, match=r"sub\(\) runs a backtracking regex"):
        where_jsonpath("$.payload.s.`sub(/(a+)+$/, b)`")


# ------------------------------------------------------------------- where_regex


def test_where_regex_on_the_payload_text() -> None:
    rule = where_regex(r'"symbol":"A[A-Z]+"')

    assert rule.matches(event(payload={"symbol": "AAPL"}))
    assert not rule.matches(event(payload={"symbol": "MSFT"}))


def test_where_regex_on_a_field() -> None:
    rule = where_regex("^order\\.", field="type")

    assert rule.matches(event("order.created"))
    assert not rule.matches(event("ORDER.created"))
    assert where_regex("^order\\.", "type", case_sensitive=False).matches(event("ORDER.x"))
    assert rule.describe() == "type matches /^order\\./"


def test_where_regex_on_a_missing_or_non_string_field_is_false() -> None:
    assert not where_regex("1", field="payload.n").matches(event(payload={"n": 1}))
    assert not where_regex("1", field="payload.n").matches(event())


def test_where_regex_bad_pattern_says_where() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where_regex("ab(c")

    assert caught.value.position == 2
    assert "invalid regular expression" in str(caught.value)


def test_where_regex_unknown_field() -> None:
    with pytest.raises(FilterSyntaxError, match="unknown event field 'symbol'"):
        where_regex("A", field="symbol")


# ------------------------------------------------------------------- where_field


def test_where_field_runs_the_test_on_present_fields() -> None:
    rule = where_field("payload.amount", lambda amount: amount > 100, "large orders")

    assert rule.matches(event(payload={"amount": 101}))
    assert not rule.matches(event(payload={"amount": 100}))
    assert not rule.matches(event(payload={}))  # missing: false
    assert not rule.matches(event(payload={"amount": "lots"}))  # TypeError: false
    assert rule.describe() == "large orders"


def test_where_field_value_error_in_test_is_false() -> None:
    assert not where_field("payload.n", lambda n: int(n) > 1).matches(event(payload={"n": "x"}))
    assert where_field("payload.n", lambda n: int(n) > 1).matches(event(payload={"n": "2"}))


def test_where_field_unknown_field() -> None:
    with pytest.raises(FilterSyntaxError) as caught:
        where_field("amount", bool)

    assert caught.value.position == 0


def test_where_field_non_decimal_digit_key_is_just_missing() -> None:
    rule = where_field("payload.items.²", bool)

    assert not rule.matches(event(payload={"items": [1, 2, 3]}))  # today: ValueError


# ------------------------------------------------------------------- algebra


def test_and_or_not_compose() -> None:
    alerts, urgent = where_type("alert"), where_field("priority", lambda p: p < 3, "priority < 3")

    both, either, neither = alerts & urgent, alerts | urgent, ~alerts

    assert isinstance(both, AllOf)
    assert isinstance(either, AnyOf)
    assert isinstance(neither, Not)
    assert both.matches(event("alert", priority=1))
    assert not both.matches(event("alert", priority=5))
    assert either.matches(event("metric", priority=1))
    assert not either.matches(event("metric", priority=5))
    assert neither.matches(event("metric"))
    assert not neither.matches(event("alert"))


def test_same_kind_combinations_flatten() -> None:
    a, b, c, d = (where_type(t) for t in "abcd")

    assert (a & b & c).children == (a, b, c)  # type: ignore[attr-defined]
    assert (a | (b | c)).children == (a, b, c)  # type: ignore[attr-defined]
    mixed = a & (b | c)
    assert isinstance(mixed, AllOf)
    assert len(mixed.children) == 2
    assert AllOf(a & b, c & d).children == (a, b, c, d)
    assert len((a | b | c | d | where_type("e")).children) == 5  # type: ignore[attr-defined]
    assert (a | b | c | d).matches(event("d"))
    assert not (a & b & c & d).matches(event("a"))


def test_describe_groups_nested_combinations() -> None:
    rule = (where_type("a") | where_type("b")) & ~(where_type("c") & where_type("d"))

    assert rule.describe() == "(type = a OR type = b) AND NOT (type = c AND type = d)"
    assert repr(where_type("a")) == "<TypeFilter type = a>"


def test_combined_type_sets_for_routing() -> None:
    orders, alerts = where_type("order.*"), where_type("alert")
    urgent = where_field("priority", lambda p: p < 3)

    assert (orders & urgent).accepted_types() == TypeSet(prefixes=frozenset({"order."}))
    assert (orders | alerts).accepted_types() == TypeSet(
        exact=frozenset({"alert"}), prefixes=frozenset({"order."})
    )
    assert (orders | urgent).accepted_types().any
    assert (~orders).accepted_types().any
    assert (orders & alerts).accepted_types() == TypeSet()  # nothing can pass
    assert (orders & where_type("order.created")).accepted_types() == TypeSet(
        exact=frozenset({"order.created"})
    )


def test_only_filters_combine() -> None:
    with pytest.raises(TypeError, match="can only combine filters"):
        where_type("a") & "b"  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least one"):
        AllOf()


def test_any_event() -> None:
    assert any_event().matches(event("x"))
    assert any_event().accepted_types().any
    assert any_event().describe() == "any event"


def test_type_set_accepts_everything_the_type_filter_matches() -> None:
    rule = where_type("SS")
    sharp_s = event("ß")  # "ß".casefold() == "ss"

    assert rule.matches(sharp_s)
    assert rule.accepted_types().accepts(sharp_s.event_type)  # today: False


# ------------------------------------------------------------------- TypeSet properties

names = st.text(alphabet="ab.", max_size=4)
type_sets = st.builds(
    TypeSet,
    st.frozensets(names, max_size=3),
    st.frozensets(names, max_size=3),
    st.booleans() | st.just(False),
)


@settings(max_examples=300, deadline=None)
@given(type_sets, type_sets, names)
def test_type_set_union_and_intersection_match_or_and_and(
    left: TypeSet, right: TypeSet, event_type: str
) -> None:
    either = left.accepts(event_type) or right.accepts(event_type)
    both = left.accepts(event_type) and right.accepts(event_type)

    assert left.union(right).accepts(event_type) is either
    assert left.intersection(right).accepts(event_type) is both
    assert right.intersection(left).accepts(event_type) is both


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "ab", "a*", "ab*", "b", "*"]), min_size=1, max_size=4), names)
def test_filters_never_match_outside_their_type_set(patterns: list[str], event_type: str) -> None:
    filters = [where_type(p) for p in patterns]
    ev = event(event_type or "empty")
    for rule in (AllOf(*filters), AnyOf(*filters), AllOf(AnyOf(*filters), filters[0])):
        if rule.matches(ev):
            assert rule.accepted_types().accepts(ev.event_type)


# ------------------------------------------------------------------- as an Rx operator


def test_a_filter_in_pipe_filters_the_stream() -> None:
    scheduler = TestScheduler()
    order, alert, urgent_order = event("order.new"), event("alert"), event("order.x", priority=1)
    xs = scheduler.create_hot_observable(
        on_next(150, order),  # before subscription
        on_next(210, order),
        on_next(220, alert),
        on_next(230, urgent_order),
        on_completed(300),
    )
    rule = where_type("order.*") & ~where_field("priority", lambda p: p < 3)

    results = scheduler.start(lambda: xs.pipe(rule))

    assert results.messages == [on_next(210, order), on_completed(300)]
    assert xs.subscriptions == [subscribe(200, 300)]


def test_a_filter_unsubscribes_when_disposed() -> None:
    scheduler = TestScheduler()
    a = event("a")
    xs = scheduler.create_cold_observable(on_next(10, a), on_next(60, a), on_completed(70))

    results = scheduler.start(lambda: where_type("a")(xs), disposed=250)

    assert results.messages == [on_next(210, a)]
    assert xs.subscriptions == [subscribe(200, 250)]
