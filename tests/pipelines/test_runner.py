"""`AgentRunner` on the loop, against a recording host: queue order, retries, limits.

`RecordingHost` stands in for the bus: it keeps what the runner emits, dead-letters
and finishes, and lets a test await the n-th finished delivery.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Ack
from reagents.events import AgentEvent, utc_now
from reagents.pipelines.deliveries import ERROR_TYPE, Delivery
from reagents.pipelines.runner import AgentRunner
from reagents.policies import Backoff
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sinks.outputs import Handler
from reagents.sources.memory import MemorySource

# asyncio may run a timer up to one clock tick early; a retry waits at least this much less.
CLOCK_SLACK = time.get_clock_info("monotonic").resolution
NO_RETRY = Backoff(max_retries=0)


class RecordingHost:
    """A `RunnerHost` that records everything the runner reports."""

    def __init__(self) -> None:
        self.emitted: list[tuple[list[AgentEvent], Ack]] = []
        self.letters: list[DeadLetter] = []
        self.finished_deliveries: list[Delivery] = []
        self._changed = asyncio.Event()

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        self.emitted.append((events, ack))

    def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    def finished(self, delivery: Delivery) -> None:
        self.finished_deliveries.append(delivery)
        delivery.ack.release()
        self._changed.set()

    async def wait_finished(self, count: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.finished_deliveries) < count:
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
def host() -> RecordingHost:
    return RecordingHost()


def start(
    runners: list[AgentRunner], host: RecordingHost, handler: Handler, **options: Any
) -> AgentRunner:
    runner = AgentRunner(Agent(handler, id=options.pop("id", "worker"), **options), host)
    runner.start()
    runners.append(runner)
    return runner


def delivery(event: AgentEvent, on_done: Callable[[], None] = lambda: None) -> Delivery:
    return Delivery(event, Ack(on_done), depth=0)


def ev(n: int = 0, **fields: Any) -> AgentEvent:
    return AgentEvent(event_type="job", payload={"n": n}, **fields)


# -- queue order -------------------------------------------------------------------------


async def test_a_busy_worker_serves_waiting_events_by_priority_then_fifo(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    busy, gate = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    async def handle(event: AgentEvent) -> None:
        order.append(event.payload["name"])
        busy.set()
        await gate.wait()

    runner = start(runners, host, handle)
    runner.submit(delivery(AgentEvent(event_type="job", payload={"name": "first"})))
    await asyncio.wait_for(busy.wait(), 5)
    waiting = [("low", 9), ("urgent", 1), ("normal", 5), ("urgent-2", 1), ("normal-2", 5)]
    for name, priority in waiting:
        runner.submit(
            delivery(AgentEvent(event_type="job", priority=priority, payload={"name": name}))
        )
    assert runner.queue_depth == 5
    gate.set()
    await host.wait_finished(6)
    assert order == ["first", "urgent", "urgent-2", "normal", "normal-2", "low"]
    assert runner.stats.processed == 6


# -- retries -------------------------------------------------------------------------------


async def test_failures_are_retried_after_the_backoff_delays_then_dead_lettered(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    loop = asyncio.get_running_loop()
    backoff = Backoff(max_retries=3, initial=0.01, multiplier=2.0, max_delay=1.0, jitter=0)
    attempts: list[tuple[float, int]] = []
    wall: list[datetime] = []
    acked = asyncio.Event()

    def fail(event: AgentEvent) -> None:
        attempts.append((loop.time(), event.retry_count))
        wall.append(utc_now())
        raise ConnectionError("upstream down")

    runner = start(runners, host, fail, retry=backoff)
    before = utc_now()
    event = ev()
    runner.submit(delivery(event, acked.set))
    await host.wait_finished(1)

    assert [retry_count for _, retry_count in attempts] == [0, 1, 2, 3]
    times = [at for at, _ in attempts]
    for retry in (1, 2, 3):  # retry n waited at least the n-th delay after the failure
        assert times[retry] - times[retry - 1] >= backoff.delay(retry) - CLOCK_SLACK
    [letter] = host.letters
    assert (letter.stage, letter.agent_id, letter.attempts) == (FailureStage.AGENT, "worker", 4)
    assert (letter.error_type, letter.message) == ("ConnectionError", "upstream down")
    assert letter.event is not None
    assert (letter.event.event_id, letter.event.retry_count) == (event.event_id, 3)
    assert before <= wall[0] <= letter.first_failure_at <= wall[1]  # the first failure's time
    assert letter.last_failure_at >= wall[3]
    assert acked.is_set()
    stats = runner.stats
    assert (stats.failed, stats.retried, stats.dead_lettered, stats.processed) == (4, 3, 1, 0)
    assert host.emitted == []  # not addressed to the agent: no answer


async def test_jittered_delays_come_from_the_runners_random_generator(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    loop = asyncio.get_running_loop()
    backoff = Backoff(max_retries=2, initial=0.02, multiplier=1.0, max_delay=0.02, jitter=1.0)
    expected = random.Random(7)
    delays = [backoff.delay(n, expected) for n in (1, 2)]
    times: list[float] = []

    def fail(event: AgentEvent) -> None:
        times.append(loop.time())
        raise ValueError("no")

    runner = AgentRunner(Agent(fail, id="worker", retry=backoff), host, rng=random.Random(7))
    runner.start()
    runners.append(runner)
    runner.submit(delivery(ev()))
    await host.wait_finished(1)
    assert len(times) == 3
    for n, delay in enumerate(delays, start=1):
        assert times[n] - times[n - 1] >= delay - CLOCK_SLACK


async def test_a_retry_that_succeeds_emits_and_finishes_once(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    calls: list[int] = []

    def flaky(event: AgentEvent) -> AgentEvent:
        calls.append(event.retry_count)
        if len(calls) < 3:
            raise TimeoutError("busy")
        return event.derive("done")

    runner = start(runners, host, flaky, retry=Backoff(max_retries=5, initial=0.001))
    work = delivery(ev())
    runner.submit(work)
    await host.wait_finished(1)
    assert calls == [0, 1, 2]
    [(outputs, held)] = host.emitted
    assert [e.event_type for e in outputs] == ["done"]
    assert outputs[0].source_agent == "worker"
    assert held is work.ack
    assert work.attempts == 2
    assert host.letters == []
    assert (runner.stats.failed, runner.stats.retried, runner.stats.processed) == (2, 2, 1)


async def test_the_events_own_max_retries_caps_the_retries(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    calls: list[int] = []

    def fail(event: AgentEvent) -> None:
        calls.append(event.retry_count)
        raise ValueError("no")

    runner = start(runners, host, fail, retry=Backoff(max_retries=5, initial=0.001))
    runner.submit(delivery(ev(max_retries=1)))
    await host.wait_finished(1)
    assert calls == [0, 1]
    assert host.letters[0].attempts == 2


async def test_an_addressed_event_that_fails_is_answered_with_agent_error(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    def fail(event: AgentEvent) -> None:
        raise KeyError("sku-42")

    runner = start(runners, host, fail, retry=Backoff(max_retries=1, initial=0.001))
    request = ev(target_agents=("worker",), correlation_id="conv-1")
    cause = delivery(request)
    runner.submit(cause)
    await host.wait_finished(1)

    [letter] = host.letters
    [([answer], held)] = host.emitted
    assert held is cause.ack
    assert cause.event.event_id == request.event_id
    assert answer.event_type == ERROR_TYPE
    assert (answer.source_agent, answer.target_agents) == ("worker", ())
    assert (answer.causation_id, answer.correlation_id) == (request.event_id, "conv-1")
    assert answer.payload == {
        "agent_id": "worker",
        "stage": "agent",
        "error_type": "KeyError",
        "message": "'sku-42'",
        "attempts": 2,
        "original_event_type": "job",
    }
    assert letter.attempts == 2
    # the answer is emitted while the failed delivery still holds its record
    assert host.finished_deliveries == [cause]


# -- limits --------------------------------------------------------------------------------


class Order(BaseModel):
    sku: str
    quantity: int


async def test_input_that_fails_the_schema_is_dead_lettered_without_calling_the_handler(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    called: list[AgentEvent] = []
    start(
        runners,
        host,
        called.append,
        input_schema=Order,
        retry=Backoff(max_retries=3, initial=0.001),
    )
    runners[0].submit(delivery(AgentEvent(event_type="order", payload={"sku": "A"})))
    addressed = AgentEvent(event_type="order", payload={"sku": 1}, target_agents=("worker",))
    runners[0].submit(delivery(addressed))
    await host.wait_finished(2)

    assert called == []
    assert [letter.stage for letter in host.letters] == [FailureStage.VALIDATION] * 2
    assert [letter.attempts for letter in host.letters] == [1, 1]  # never retried
    assert "payload.quantity" in host.letters[0].message
    [([answer], _)] = host.emitted
    assert answer.payload["stage"] == "validation"
    assert runners[0].stats.failed == 0
    assert runners[0].stats.dead_lettered == 2


async def test_a_handler_over_its_timeout_is_cancelled_and_dead_lettered(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    cancelled = asyncio.Event()

    async def stuck(event: AgentEvent) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    runner = start(runners, host, stuck, timeout=0.01, retry=NO_RETRY)
    runner.submit(delivery(ev()))
    await host.wait_finished(1)
    assert cancelled.is_set()
    [letter] = host.letters
    assert (letter.error_type, letter.attempts) == ("TimeoutError", 1)
    assert runner.stats.in_flight == 0


async def test_no_more_than_max_concurrent_events_are_handled_at_once(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    active = peak = 0
    full, gate = asyncio.Event(), asyncio.Event()

    async def handle(event: AgentEvent) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        if active == 3:
            full.set()
        await gate.wait()
        active -= 1

    runner = start(runners, host, handle, max_concurrent=3)
    for n in range(10):
        runner.submit(delivery(ev(n)))
    await asyncio.wait_for(full.wait(), 5)
    for _ in range(20):  # give a fourth worker, if there were one, every chance to start
        await asyncio.sleep(0)
    assert (active, runner.stats.in_flight, runner.queue_depth) == (3, 3, 7)
    gate.set()
    await host.wait_finished(10)
    assert peak == 3


async def test_stop_cancels_pending_retries_and_leaves_the_record_unacked(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    failed = asyncio.Event()
    acked: list[str] = []

    def fail(event: AgentEvent) -> None:
        failed.set()
        raise ValueError("no")

    runner = start(runners, host, fail, retry=Backoff(max_retries=3, initial=0.01))
    runner.submit(delivery(ev(), lambda: acked.append("acked")))
    await asyncio.wait_for(failed.wait(), 5)
    assert runner.snapshot().queue_depth == 1  # the pending retry counts as waiting
    await runner.stop()
    await asyncio.sleep(0.03)  # past the retry's due time: nothing to await, it must not fire
    assert runner.stats.failed == 1
    assert host.finished_deliveries == []
    assert acked == []


# -- restarts ------------------------------------------------------------------------------


async def test_a_restarted_runner_does_not_handle_a_previous_runs_deliveries(
    host: RecordingHost, runners: list[AgentRunner]
) -> None:
    gate = asyncio.Event()
    handled: list[int] = []

    async def handle(event: AgentEvent) -> None:
        await gate.wait()
        handled.append(event.payload["n"])

    runner = start(runners, host, handle)
    for n in range(3):
        runner.submit(delivery(ev(n)))
    await asyncio.sleep(0)
    await runner.stop()  # one in hand (cancelled), two waiting: all unacknowledged
    gate.set()
    runner.start()
    runner.submit(delivery(ev(10)))
    await host.wait_finished(1)
    await asyncio.sleep(0)
    assert handled == [10]


async def test_a_pipeline_runs_again_after_a_drain_timeout() -> None:
    from reagents.pipelines.pipeline import Pipeline

    pipeline = Pipeline("again", dead_letters=MemoryDeadLetters())
    gate = asyncio.Event()

    @pipeline.agent("slow")
    async def slow(event: AgentEvent) -> None:
        await gate.wait()

    pipeline.add_source(MemorySource.from_events([ev(n) for n in range(3)], name="first"))
    run = asyncio.create_task(pipeline.run())
    await pipeline.wait_started()
    while pipeline.in_flight < 3:
        await asyncio.sleep(0)
    await pipeline.stop(timeout=0.01)  # gives up on the three deliveries in flight
    await run
    pipeline.remove_source("first")
    pipeline.add_source(MemorySource.from_events([ev(10)], name="second"))
    gate.set()
    await asyncio.wait_for(pipeline.run(), 1)
    assert pipeline.in_flight == 0
