"""A whole pipeline in virtual time: windows, retries, timeouts and rate limits, no sleeps."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reagents import (
    AgentEvent,
    Backoff,
    EventTime,
    FailureStage,
    MemoryDeadLetters,
    Pipeline,
    RateLimit,
    Saga,
    SagaCoordinator,
    SagaStatus,
    SagaStep,
    addressed_only,
    debounce,
    tumbling,
)
from reagents.patterns.saga_store import SagaRecord
from reagents.testing import Timeline, play, run_in_virtual_time


def tick(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


def test_a_five_minute_window_with_three_retries_takes_milliseconds() -> None:
    attempts: list[float] = []

    async def scenario() -> Timeline:
        pipeline = Pipeline("virtual", dead_letters=MemoryDeadLetters())

        @pipeline.agent(
            subscription="type = tick",
            flow=[tumbling(300.0)],
            retry=Backoff(max_retries=3, initial=10.0, multiplier=2.0, max_delay=60.0, jitter=0),
        )
        def digest(ticks: list[AgentEvent]) -> AgentEvent:
            attempts.append(asyncio.get_running_loop().time())
            if len(attempts) < 4:
                raise RuntimeError("model busy")
            return ticks[-1].derive("digest", {"count": len(ticks)})

        return await play(pipeline, [(1.0, tick(1)), (100.0, tick(2)), (250.0, tick(3))])

    started = time.monotonic()
    timeline = run_in_virtual_time(scenario())
    assert time.monotonic() - started < 5  # real time: the waits were virtual
    # the window [0, 300) closes at 300 s; retries wait 10, 20 and 40 s
    assert attempts == [300.0, 310.0, 330.0, 370.0]
    assert timeline.times("digest") == [370.0]
    [(_, digest)] = timeline.of_type("digest")
    assert digest.payload == {"count": 3}
    assert timeline.marbles({"t": "tick", "d": "digest"}, tick=60.0) == "tt--t-d"


def test_a_handler_timeout_and_a_debounce_fire_in_virtual_time() -> None:
    async def scenario() -> tuple[Timeline, Pipeline]:
        letters = MemoryDeadLetters()
        pipeline = Pipeline("virtual", dead_letters=letters)

        @pipeline.agent(
            subscription="type = tick",
            flow=[debounce(30.0)],
            timeout=5.0,
            retry=Backoff(max_retries=0),
        )
        async def slow(event: AgentEvent) -> None:
            await asyncio.sleep(3600)  # an hour: only virtual time makes this testable

        events = [(0.0, tick(1)), (10.0, tick(2)), (100.0, tick(3))]
        return await play(pipeline, events), pipeline

    timeline, pipeline = run_in_virtual_time(scenario())
    letters = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
    # tick 1 was superseded by tick 2 within 30 s: only 2 and 3 reach the handler,
    # each dead-lettered after its 5 s timeout
    assert [letter.event.payload["n"] for letter in letters] == [2, 3]
    assert {letter.stage for letter in letters} == {FailureStage.AGENT}
    assert {letter.error_type for letter in letters} == {"TimeoutError"}
    assert timeline.times("tick") == [0.0, 10.0, 100.0]


def test_a_rate_limit_paces_in_virtual_time() -> None:
    handled: list[float] = []

    async def scenario() -> Timeline:
        pipeline = Pipeline("virtual", dead_letters=MemoryDeadLetters())

        @pipeline.agent(subscription="type = tick", rate=RateLimit(rate=1, per=60.0))
        def llm(event: AgentEvent) -> None:
            handled.append(asyncio.get_running_loop().time())

        return await play(pipeline, [(0.0, tick(n)) for n in range(4)])

    run_in_virtual_time(scenario())
    assert handled == [0.0, 60.0, 120.0, 180.0]


def test_a_saga_step_timeout_fires_in_virtual_time(tmp_path: Path) -> None:
    async def scenario() -> tuple[SagaRecord, float]:
        pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
        applied: list[str] = []

        @pipeline.agent("payments", subscription=addressed_only())
        def payments(event: AgentEvent) -> dict[str, str]:
            applied.append(event.event_type)
            return {"ok": "yes"}

        @pipeline.agent("shipping", subscription=addressed_only())
        async def shipping(event: AgentEvent) -> None:
            await asyncio.sleep(86_400)  # a day: it never answers in time

        saga = Saga(
            "order",
            (
                SagaStep("pay", "payments", "charge", "refund", timeout=60.0),
                SagaStep("ship", "shipping", "ship", timeout=600.0),
            ),
        )
        loop = asyncio.get_running_loop()
        async with pipeline.serving():
            async with SagaCoordinator(pipeline, tmp_path / "sagas.db", [saga]) as coordinator:
                started = loop.time()
                record = await coordinator.run("order", {"total": 10})
                took = loop.time() - started
            pipeline.request_stop()
        assert applied == ["charge", "refund"]
        return record, took

    real = time.monotonic()
    record, took = run_in_virtual_time(scenario())
    assert time.monotonic() - real < 5
    assert record.status is SagaStatus.COMPENSATED
    assert 600.0 <= took < 601.0  # the ship step timed out after its 600 virtual seconds


def test_an_event_time_window_of_a_quiet_stream_closes_after_the_idle_timeout() -> None:
    base = datetime(2026, 1, 1, tzinfo=UTC)
    closed: list[float] = []

    async def scenario() -> Timeline:
        pipeline = Pipeline("quiet", dead_letters=MemoryDeadLetters())

        @pipeline.agent(
            subscription="type = tick",
            flow=[tumbling(10.0)],
            flow_time=EventTime(idle_timeout=5.0),
        )
        def digest(ticks: list[AgentEvent]) -> None:
            closed.append(asyncio.get_running_loop().time())

        events = [
            (float(n), AgentEvent(event_type="tick", timestamp=base + timedelta(seconds=n)))
            for n in range(3)
        ]
        return await play(pipeline, events)

    run_in_virtual_time(scenario())
    # no event after t=2: the watermark moves 5 s each quiet 5 s, so it passes the
    # window's end (10 s after the first event) at the second check
    assert len(closed) == 1
    assert 10.0 <= closed[0] <= 15.0


async def test_virtual_time_also_runs_from_inside_a_running_loop() -> None:
    async def sleepy() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    real = time.monotonic()
    assert run_in_virtual_time(sleepy(), start=100.0) == 3700.0
    assert time.monotonic() - real < 5
