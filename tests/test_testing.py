"""The public test helpers in reagents.testing."""

from __future__ import annotations

import pytest
from reactivex.testing import ReactiveTest, TestScheduler

from reagents import AgentEvent, where_type
from reagents.testing import cold_events, hot_events, marbles_of, memory_pipeline, run_events

QUOTE = AgentEvent(event_type="quote", payload={"p": 1})
ALERT = AgentEvent(event_type="alert", priority=1)
QUOTE2 = AgentEvent(event_type="quote", payload={"p": 2})
NAMES = {"a": QUOTE, "b": ALERT, "c": QUOTE2}


def test_cold_events_through_a_filter_read_back_as_marbles() -> None:
    scheduler = TestScheduler()
    source = cold_events(scheduler, "a-b-c|", NAMES)
    result = scheduler.start(lambda: source.pipe(where_type("quote")))
    assert marbles_of(result.messages, NAMES) == "a---c|"
    assert source.subscriptions == [ReactiveTest.subscribe(200, 205)]


def test_hot_events_start_at_subscription_time_and_group_simultaneous_values() -> None:
    scheduler = TestScheduler()
    source = hot_events(scheduler, "-(a,b)--c-|", NAMES)
    result = scheduler.start(lambda: source)
    assert result.messages[0].time == result.messages[1].time == 201
    assert marbles_of(result.messages, NAMES) == "-(a,b)--c-|"


def test_unknown_marble_names_are_reported() -> None:
    with pytest.raises(KeyError, match=r"\['x'\]"):
        cold_events(TestScheduler(), "a-x|", NAMES)
    with pytest.raises(KeyError, match="no marble name"):
        marbles_of([ReactiveTest.on_next(200, ALERT)], {"a": QUOTE})


async def test_run_events_reports_bus_traffic_and_dead_letters() -> None:
    pipeline = memory_pipeline()

    @pipeline.agent(subscription="type = quote")
    def pricer(e: AgentEvent) -> AgentEvent:
        if e.payload["p"] == 2:
            raise ValueError("bad price")
        return e.derive("priced")

    run = await run_events(pipeline, [QUOTE, QUOTE2])
    assert run.types() == ["quote", "quote", "priced"]
    assert run.of_type("priced")[0].causation_id == QUOTE.event_id
    assert [letter.message for letter in run.dead_letters] == ["bad price"]
