"""The article's trading-agent subscriptions, written with ``where`` and with the filters.

The article registers four filters (market data, high-priority alerts, a symbol list,
"volatility" in the content) and ANDs them, so only a market-data event that is also
urgent, about a listed symbol and mentions volatility would reach the agent; its
comments say each filter is a separate subscription, which is what is tested here, as
each filter alone and as their OR. Its symbol regex, ``^AAPL|MSFT|GOOGL$``, also binds
the anchors to the first and last alternatives only; the grouped
``^(AAPL|MSFT|GOOGL)$`` is used instead (and the difference is pinned below).
"""

from __future__ import annotations

from typing import Any

import pytest
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.events import AgentEvent
from reagents.operators.expression import where
from reagents.operators.filters import (
    Filter,
    where_content,
    where_field,
    where_jsonpath,
    where_regex,
    where_type,
)

on_next = ReactiveTest.on_next
on_completed = ReactiveTest.on_completed
subscribe = ReactiveTest.subscribe


def event(event_type: str, priority: int = 5, **payload: Any) -> AgentEvent:
    return AgentEvent(event_type=event_type, priority=priority, payload=payload)


TICK_AAPL = event("market_data", symbol="AAPL", price=190.5, volume=1_200)
TICK_TSLA = event("market_data", symbol="TSLA", price=250.0, volume=900)
TICK_UPPER = event("MARKET_DATA", symbol="MSFT", price=410.0, volume=10)
HALT = event("alert", priority=1, type="market_halt", message="trading halted")
RISK = event("alert", priority=2, type="risk_limit_exceeded", symbol="GOOGL")
NOTICE = event("alert", priority=7, type="notice", message="Volatility expected at open")
ORDER = event("order_update", symbol="AAPLX", note="filled")
NEWS = event("news", priority=9, note="implied volatility is rising", symbol="XMSFTX")
EVENTS = [TICK_AAPL, TICK_TSLA, TICK_UPPER, HALT, RISK, NOTICE, ORDER, NEWS]

SYMBOL_REGEX = "^(AAPL|MSFT|GOOGL)$"

SUBSCRIPTIONS: dict[str, tuple[list[Filter], list[AgentEvent]]] = {
    "market data": (
        [where("type = market_data"), where_type("market_data")],
        [TICK_AAPL, TICK_TSLA, TICK_UPPER],
    ),
    "high priority": (
        [
            where("priority < 3"),
            where_jsonpath("$.priority[?(@ < 3)]"),
            where_jsonpath("$.priority[?(@<3)]"),  # the article's spelling
            where_field("priority", lambda p: p < 3),
        ],
        [HALT, RISK],
    ),
    "symbols": (
        [
            where("payload.symbol IN ('AAPL', 'MSFT', 'GOOGL')"),
            where(f"payload.symbol MATCHES '{SYMBOL_REGEX}'"),
            where_jsonpath(f'$.payload.symbol[?(@ =~ "{SYMBOL_REGEX}")]'),
            where_jsonpath(f"$.payload.symbol[?(@=~/{SYMBOL_REGEX}/)]"),  # a regex literal
            where_regex(SYMBOL_REGEX, field="payload.symbol"),
        ],
        [TICK_AAPL, TICK_UPPER, RISK],
    ),
    "volatility": (
        [
            where_content("volatility", case_sensitive=False),  # the article's filter
            where_regex("volatility", case_sensitive=False),
            where("payload.note CONTAINS 'volatility' OR payload.message MATCHES '(?i)volatility'"),
            where("payload.note CONTAINS volatility OR payload.message CONTAINS Volatility"),
        ],
        [NOTICE, NEWS],
    ),
}


@pytest.mark.parametrize("name", list(SUBSCRIPTIONS))
def test_each_subscription_matches_exactly_its_events(name: str) -> None:
    filters, expected = SUBSCRIPTIONS[name]

    for rule in filters:
        matched = [ev for ev in EVENTS if rule.matches(ev)]
        assert matched == expected, (name, rule.describe())


def test_every_text_filter_is_case_sensitive_unless_told_otherwise() -> None:
    exact = [
        where_content("volatility"),
        where_regex("volatility"),
        where("payload.message CONTAINS 'volatility'"),
        where("payload.message MATCHES 'volatility'"),
        where_jsonpath('$.payload.message[?(@ =~ "volatility")]'),
        where_jsonpath("$.payload.message[?(@ =~ /volatility/)]"),
    ]
    ignoring = [
        where_content("volatility", case_sensitive=False),
        where_regex("volatility", case_sensitive=False),
        where_regex("(?i)volatility"),
        where("payload.message MATCHES '(?i)volatility'"),
        where_jsonpath('$.payload.message[?(@ =~ "(?i)volatility")]'),
        where_jsonpath("$.payload.message[?(@ =~ /volatility/i)]"),
    ]
    assert [rule.matches(NOTICE) for rule in exact] == [False] * len(exact)  # "Volatility"
    assert [rule.matches(NOTICE) for rule in ignoring] == [True] * len(ignoring)
    assert where_type("MARKET_DATA").matches(TICK_AAPL)  # the event type ignores case
    assert where("type = MARKET_DATA").matches(TICK_AAPL)


def test_the_articles_ungrouped_symbol_regex_matches_too_much() -> None:
    loose = where("payload.symbol MATCHES '^AAPL|MSFT|GOOGL$'")

    assert loose.matches(ORDER)  # "AAPLX": ^AAPL alone matches
    assert loose.matches(NEWS)  # "XMSFTX": MSFT anywhere matches
    assert not where(f"payload.symbol MATCHES '{SYMBOL_REGEX}'").matches(ORDER)
    article = where_jsonpath("$.payload.symbol[?(@=~/^AAPL|MSFT|GOOGL$/)]")  # as written there
    assert [ev for ev in EVENTS if article.matches(ev)] == [
        ev for ev in EVENTS if loose.matches(ev)
    ]


def test_market_data_subscription_is_indexed_by_type() -> None:
    types = where("type = market_data").accepted_types()

    assert (types.exact, types.any) == (frozenset({"market_data"}), False)


def test_trading_agent_receives_the_union_of_its_subscriptions() -> None:
    trading = where(
        "type = market_data OR priority < 3 OR payload.symbol IN (AAPL, MSFT, GOOGL)"
        " OR payload.note CONTAINS volatility OR payload.message MATCHES '(?i)volatility'"
    )
    scheduler = TestScheduler()
    xs = scheduler.create_hot_observable(
        *(on_next(210 + 10 * i, ev) for i, ev in enumerate(EVENTS)),
        on_completed(400),
    )

    results = scheduler.start(lambda: xs.pipe(trading))

    expected = [TICK_AAPL, TICK_TSLA, TICK_UPPER, HALT, RISK, NOTICE, NEWS]
    assert results.messages == [
        *(on_next(210 + 10 * EVENTS.index(ev), ev) for ev in expected),
        on_completed(400),
    ]
    assert xs.subscriptions == [subscribe(200, 400)]
