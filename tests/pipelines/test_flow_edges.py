"""Flows at their edges: flushes, failures and joins that must neither hang nor lose acks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from reactivex import operators as ops

from reagents import (
    Agent,
    AgentEvent,
    AgentRequestError,
    ConfigurationError,
    EventTime,
    FailureStage,
    FlowOperator,
    MemoryDeadLetters,
    Pipeline,
    batch,
    by_key,
    each,
    throttle,
    tumbling,
    with_latest_from,
)
from tests.pipelines.test_flows import RecordingSource, tick


def pipeline_with(*events: AgentEvent) -> tuple[Pipeline, RecordingSource]:
    pipeline = Pipeline("edges", dead_letters=MemoryDeadLetters())
    return pipeline, pipeline.add_source(RecordingSource(events))


async def test_input_reaching_a_throttled_flow_while_it_is_flushed_is_handled() -> None:
    pipeline, source = pipeline_with(*[tick(n) for n in range(3)])
    seen: list[tuple[str, int]] = []

    @pipeline.agent(subscription="type = tick OR type = echo", flow=[throttle(1, per=0.05)])
    def paced(event: AgentEvent) -> dict[str, int] | None:
        seen.append((event.event_type, event.payload["n"]))
        return {"n": event.payload["n"]} if event.event_type == "tick" else None

    @pipeline.agent(subscription="type = agent_response")
    def echo(event: AgentEvent) -> AgentEvent:
        return event.derive("echo", {"n": event.payload["result"]["n"]})

    await asyncio.wait_for(pipeline.run(), 10)
    assert sorted(seen) == [
        ("echo", 0),
        ("echo", 1),
        ("echo", 2),
        ("tick", 0),
        ("tick", 1),
        ("tick", 2),
    ]
    assert len(source.acked) == 3
    assert pipeline.in_flight == 0


async def test_an_event_time_throttle_sends_its_queue_at_the_end_of_the_input() -> None:
    pipeline, source = pipeline_with(*[tick(n) for n in range(3)])
    seen: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[throttle(1, per=10.0)], flow_time=EventTime())
    def paced(event: AgentEvent) -> None:
        seen.append(event.payload["n"])

    await asyncio.wait_for(pipeline.run(), 10)
    assert seen == [0, 1, 2]
    assert len(source.acked) == 3


async def test_a_join_downstream_keeps_its_latest_event_while_upstream_flows_flush() -> None:
    rate = AgentEvent(event_type="fx", payload={"rate": 1.5})
    pipeline, source = pipeline_with(rate, *[tick(n) for n in range(1, 4)])
    priced: list[tuple[list[int], float]] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(5)])
    def orders(ticks: list[AgentEvent]) -> dict[str, list[int]]:
        return {"order": [t.payload["n"] for t in ticks]}

    @pipeline.agent(subscription="type = agent_response", flow=[with_latest_from("type = fx")])
    def pricer(pair: tuple[AgentEvent, AgentEvent]) -> None:
        priced.append((pair[0].payload["result"]["order"], pair[1].payload["rate"]))

    await asyncio.wait_for(pipeline.run(), 10)
    assert priced == [([1, 2, 3], 1.5)]  # the end-of-input batch still found the rate
    assert len(source.acked) == 4


async def test_a_side_stream_ahead_in_time_does_not_make_the_main_events_late() -> None:
    ahead = AgentEvent(
        event_type="fx", payload={"rate": 2.0}, timestamp=tick(0, seconds=100).timestamp
    )
    pipeline, source = pipeline_with(ahead, *[tick(n) for n in range(1, 4)])
    seen: list[tuple[list[int], float]] = []

    @pipeline.agent(
        subscription="type = tick",
        flow=lambda events: events.pipe(tumbling(10.0), with_latest_from("type = fx")),
        flow_time=EventTime(),
    )
    def windows(pair: tuple[list[AgentEvent], AgentEvent]) -> None:
        seen.append(([t.payload["n"] for t in pair[0]], pair[1].payload["rate"]))

    await asyncio.wait_for(pipeline.run(), 10)
    assert seen == [([1, 2, 3], 2.0)]
    assert len(source.acked) == 4


@pytest.mark.parametrize("from_a_reaction", [False, True])
async def test_an_unhashable_key_dead_letters_that_event_and_the_pipeline_goes_on(
    from_a_reaction: bool,
) -> None:
    pipeline, source = pipeline_with(*[tick(n) for n in range(3)])
    seen: list[int] = []
    if from_a_reaction:

        @pipeline.agent(subscription="type = tick")
        def relay(event: AgentEvent) -> AgentEvent:
            return event.derive("relayed", {"n": event.payload["n"]})

    subscription = "type = relayed" if from_a_reaction else "type = tick"

    def unhashable(event: AgentEvent) -> Any:
        return [event.payload["n"]]  # a list: not a valid key

    @pipeline.agent(subscription=subscription, flow=[by_key(unhashable, batch(2, within=0.1))])
    def grouped(events: list[AgentEvent]) -> None:
        seen.extend(e.payload["n"] for e in events)

    await asyncio.wait_for(pipeline.run(), 10)
    letters = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
    assert seen == []
    assert [letter.stage for letter in letters] == [FailureStage.FLOW] * 3
    assert {letter.error_type for letter in letters} == {"TypeError"}
    assert len(source.acked) == 3


async def test_a_request_whose_value_fails_in_the_flow_gets_an_agent_error_answer() -> None:
    pipeline = Pipeline("requests", dead_letters=MemoryDeadLetters())

    def boom(event: AgentEvent) -> AgentEvent:
        raise ValueError("bad input")

    @pipeline.agent(subscription="type = never", flow=[each(ops.map(boom))])
    def handler(event: AgentEvent) -> dict[str, int]:
        return {"ok": 1}

    async with pipeline.serving():
        with pytest.raises(AgentRequestError, match="ValueError: bad input"):
            await pipeline.request("handler", {"x": 1}, timeout=5)


def test_a_join_inside_by_key_is_refused_with_what_to_do() -> None:
    with pytest.raises(ConfigurationError, match="put it before by_key"):
        by_key(lambda e: e.event_type, with_latest_from("type = fx"))


async def test_hundreds_of_event_time_windows_closing_at_once_at_the_end() -> None:
    events = [tick(n, symbol=f"S{n}", seconds=1.0) for n in range(150)]
    pipeline, source = pipeline_with(*events)
    windows: list[str] = []

    def symbol(event: AgentEvent) -> str:
        return str(event.payload["symbol"])

    @pipeline.agent(
        subscription="type = tick",
        flow=[by_key(symbol, tumbling(60.0), max_keys=200)],
        flow_time=EventTime(),
    )
    def per_symbol(ticks: list[AgentEvent]) -> None:
        windows.append(symbol(ticks[0]))

    await asyncio.wait_for(pipeline.run(), 10)
    assert sorted(windows) == sorted(symbol(e) for e in events)  # 150 timers due at once
    assert len(source.acked) == 150


@pytest.mark.parametrize("pricer_first", [True, False])
@pytest.mark.parametrize("paced", [False, True])
async def test_a_join_is_flushed_after_the_flows_that_feed_it(
    pricer_first: bool, paced: bool
) -> None:
    rate = AgentEvent(event_type="fx", payload={"rate": 1.5})
    pipeline, source = pipeline_with(rate, *[tick(n) for n in range(1, 5)])
    priced: list[float] = []

    def pricer(pair: tuple[AgentEvent, AgentEvent]) -> None:
        priced.append(pair[1].payload["rate"])

    def orders(ticks: list[AgentEvent]) -> dict[str, int]:
        return {"count": len(ticks)}

    upstream: list[FlowOperator[Any, Any]] = (
        [throttle(1, per=0.02), batch(2)] if paced else [batch(5)]
    )
    agents: list[Agent[Any]] = [
        Agent(
            pricer,
            id="pricer",
            subscription="type = agent_response",
            flow=[with_latest_from("type = fx")],
        ),
        Agent(orders, id="orders", subscription="type = tick", flow=upstream),
    ]
    for agent in agents if pricer_first else reversed(agents):
        pipeline.add_agent(agent)
    await asyncio.wait_for(pipeline.run(), 10)
    assert priced == [1.5] * (2 if paced else 1)  # every order found the rate
    assert len(source.acked) == 5


async def test_a_run_with_a_flow_ends_when_the_last_published_events_match_nothing() -> None:
    pipeline = Pipeline("unmatched", dead_letters=MemoryDeadLetters())
    seen: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(2)])
    def pairs(ticks: list[AgentEvent]) -> None:
        seen.append(len(ticks))

    pipeline.publish(tick(1))
    for n in range(200):  # more than one inbox batch, none of them for the agent
        pipeline.publish(AgentEvent(event_type="noise", payload={"n": n}))
    await asyncio.wait_for(pipeline.run(), 10)
    assert seen == [1]
