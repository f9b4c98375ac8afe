"""`Pipeline.events`: a subscriber that raises is isolated, counted and logged."""

from __future__ import annotations

import logging

import pytest

from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.memory import MemorySource


def ticks(count: int) -> list[AgentEvent]:
    return [AgentEvent(event_type="tick", payload={"n": n}) for n in range(count)]


async def test_a_raising_subscriber_neither_ends_the_run_nor_starves_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = Pipeline("tap", dead_letters=MemoryDeadLetters())
    handled: list[int] = []

    @pipeline.agent(subscription=where_type("tick"))
    async def count(event: AgentEvent) -> None:
        handled.append(event.payload["n"])

    def broken(event: AgentEvent) -> None:
        raise ValueError(f"cannot show {event.payload['n']}")

    seen: list[AgentEvent] = []
    pipeline.events.subscribe(broken)
    pipeline.events.subscribe(seen.append)
    pipeline.add_source(MemorySource.from_events(ticks(5), name="ticks"))
    with caplog.at_level(logging.WARNING, logger="reagents.pipelines.tap"):
        await pipeline.run()

    assert sorted(handled) == [0, 1, 2, 3, 4]
    assert [e.payload["n"] for e in seen] == [0, 1, 2, 3, 4]
    assert pipeline.counters.subscriber_failures == 5
    warnings = [r for r in caplog.records if "pipeline.events" in r.getMessage()]
    assert len(warnings) == 1  # the first failure, with its traceback; the rest counted
    assert warnings[0].exc_info is not None
    assert "cannot show 0" in str(warnings[0].exc_info[1])


async def test_a_subscriber_sees_an_event_after_it_was_routed() -> None:
    pipeline = Pipeline("tap", dead_letters=MemoryDeadLetters())
    in_flight_seen: list[int] = []

    @pipeline.agent(subscription=where_type("tick"))
    async def count(event: AgentEvent) -> None:
        return None

    pipeline.events.subscribe(lambda _: in_flight_seen.append(pipeline.in_flight))
    pipeline.add_source(MemorySource.from_events(ticks(1), name="ticks"))
    await pipeline.run()
    assert in_flight_seen == [1]  # the delivery to `count` existed when it was tapped
