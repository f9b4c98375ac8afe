"""An idle pipeline sleeps: serving with nothing to do costs (almost) no CPU.

These measure CPU time, not speed: `time.process_time` over a second of wall time
while nothing happens. A loop that polls or spins uses the whole second.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.operators.windows import tumbling
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.memory import MemorySource

IDLE_CPU_LIMIT = 0.05  # of a core, over the idle second
WITH_AND_WITHOUT_WINDOW = pytest.mark.parametrize("window", [False, True], ids=["", "window"])


async def cpu_while_idle(seconds: float = 1.0) -> float:
    """The share of a core this process used while the loop ran for ``seconds``."""
    start = time.process_time()
    await asyncio.sleep(seconds)
    return (time.process_time() - start) / seconds


async def settled(pipeline: Pipeline, window: bool) -> None:
    """Wait until `pong` answered, and only `tally`'s window holds an event (if any)."""
    for _ in range(500):
        if pipeline.in_flight == int(window) and pipeline.stats()["pong"].processed == 1:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not settled: {pipeline.in_flight} in flight")


def pipeline_with_agents(window: bool) -> Pipeline:
    """`pong` answers pings; `tally` counts pongs, over 60 s windows if ``window``."""
    pipeline = Pipeline("idle", dead_letters=MemoryDeadLetters())

    @pipeline.agent(subscription=where_type("ping"))
    async def pong(event: AgentEvent) -> AgentEvent:
        return event.derive("pong")

    if window:

        @pipeline.agent(subscription=where_type("pong"), flow=tumbling(60.0))
        async def tally(batch: list[AgentEvent]) -> None:
            return None

    return pipeline


@WITH_AND_WITHOUT_WINDOW
async def test_a_serving_pipeline_without_sources_sleeps(window: bool) -> None:
    pipeline = pipeline_with_agents(window)
    async with pipeline.serving():
        await pipeline.request("pong", event_type="ping")
        await settled(pipeline, window)
        assert await cpu_while_idle() < IDLE_CPU_LIMIT


@WITH_AND_WITHOUT_WINDOW
async def test_a_serving_pipeline_with_an_open_source_sleeps(window: bool) -> None:
    pipeline = pipeline_with_agents(window)
    source = pipeline.add_source(MemorySource("quiet"))
    async with pipeline.serving():
        await source.publish(AgentEvent(event_type="ping"))
        await settled(pipeline, window)
        assert await cpu_while_idle() < IDLE_CPU_LIMIT
        source.stop()


@WITH_AND_WITHOUT_WINDOW
async def test_a_serving_pipeline_whose_sources_ended_sleeps(window: bool) -> None:
    pipeline = pipeline_with_agents(window)
    pipeline.add_source(MemorySource.from_events([AgentEvent(event_type="ping")]))
    async with pipeline.serving():
        await settled(pipeline, window)
        assert await cpu_while_idle() < IDLE_CPU_LIMIT
