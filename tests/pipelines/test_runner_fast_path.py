"""The runner's per-event path: what it does NOT do for an event (issue 15, item 4).

A handler that returns None costs no output collection; a busy worker reads the clock
about twice an event (at the queue and at the end of a handling, which also starts the
next one) and sets the causation depth only when it changes; and the latencies it
records still add up. Each test counts what the runner calls, not how long it takes.
"""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

import reagents.pipelines.handling as handling_module
import reagents.pipelines.runner as runner_module
from reagents.delivery import Ack, causation_depth
from reagents.events import AgentEvent
from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.runner import AgentRunner
from reagents.sinks.agent import Agent
from tests.pipelines.test_runner import RecordingHost, ev

EVENTS = 160


def _runner(runners: list[AgentRunner], host: RecordingHost, agent: Agent) -> AgentRunner:
    runner = AgentRunner(agent, host)
    runners.append(runner)
    return runner


def _deliveries(count: int, depth: int = 0) -> list[Delivery]:
    return [Delivery(ev(n), Ack(lambda: None), depth) for n in range(count)]


def _nothing(event: AgentEvent) -> None:
    return None


async def _nothing_later(event: AgentEvent) -> None:
    return None


@pytest.mark.parametrize("handler", [_nothing, _nothing_later], ids=["sync", "async"])
async def test_a_handler_returning_none_collects_no_outputs(
    handler: Any, runners: list[AgentRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    def collect(*args: Any) -> Any:
        raise AssertionError("collect_outputs called for a handler that returned None")

    monkeypatch.setattr(handling_module, "collect_outputs", collect)
    host = RecordingHost()
    runner = _runner(runners, host, Agent(handler, id="quiet"))
    for delivery in _deliveries(20):
        runner.submit(delivery)
    runner.start()
    await host.wait_finished(20)
    assert runner.stats.processed == 20
    assert (runner.stats.failed, host.letters, host.emitted) == (0, [], [])


async def test_a_busy_worker_reads_the_clock_about_twice_an_event(
    runners: list[AgentRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Queued at submit, then once at the end of each handling (which also starts the
    next): 2 readings an event, plus one after each pause (every 64 events it lets the
    loop run). It used to read 4 times (queued, start, handler returned, end)."""
    reads = 0

    def perf_counter_ns() -> int:
        nonlocal reads
        reads += 1
        return time.perf_counter_ns()

    monkeypatch.setattr(runner_module, "time", SimpleNamespace(perf_counter_ns=perf_counter_ns))
    host = RecordingHost()
    runner = _runner(runners, host, Agent(_nothing, id="busy"))
    for delivery in _deliveries(EVENTS):
        runner.submit(delivery)
    runner.start()
    await host.wait_finished(EVENTS)
    assert reads <= 2 * EVENTS + EVENTS // runner_module._YIELD_EVERY + 1
    latency = runner.stats.latency
    total, queued, handling = (sketch.digest() for sketch in latency.parts())
    assert total.count == queued.count == handling.count == EVENTS
    assert latency.total.total_ns == latency.queued.total_ns + latency.handling.total_ns


async def test_causation_depth_is_set_only_when_it_changes(
    runners: list[AgentRunner], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    sets: list[int] = []

    class Counted:
        def get(self) -> int:
            return causation_depth.get()

        def set(self, depth: int) -> object:
            sets.append(depth)
            return causation_depth.set(depth)

    monkeypatch.setattr(runner_module, "causation_depth", Counted())
    host = RecordingHost()
    runner = _runner(runners, host, Agent(lambda e: seen.append(causation_depth.get()), id="d"))
    depths = [0] * 50 + [2] * 50 + [1] * 50
    for depth in depths:
        runner.submit(_deliveries(1, depth)[0])
    runner.start()
    await host.wait_finished(len(depths))
    assert seen == depths  # the handler (and a sink it writes to) sees each event's depth
    assert sets == [2, 1]  # not 150 sets: 0 is the worker's default


async def test_processing_time_of_an_async_handlers_answer_covers_its_await(
    runners: list[AgentRunner],
) -> None:
    """A dict answer's ``processing_time_ms`` is measured once the handler finished (it
    was read before an ``async def`` handler's coroutine had run: ~0 ms)."""

    async def slow(event: AgentEvent) -> dict[str, Any]:
        await asyncio.sleep(0.03)
        return {"done": True}

    host = RecordingHost()
    runner = _runner(runners, host, Agent(slow, id="slow"))
    runner.start()
    runner.submit(_deliveries(1)[0])
    await host.wait_finished(1)
    [([answer], _)] = host.emitted
    assert answer.payload["result"] == {"done": True}
    assert answer.payload["processing_time_ms"] >= 25


async def test_rejected_input_still_lets_the_loop_run_at_its_regular_pause(
    runners: list[AgentRunner],
) -> None:
    """Input refused by the schema skips the handler but still counts towards the
    worker's regular pause, so a stream of bad input cannot keep the loop to itself."""
    host = RecordingHost()
    schema = {"type": "object", "required": ["missing"]}
    runner = _runner(runners, host, Agent(_nothing, id="strict", input_schema=schema))
    for delivery in _deliveries(EVENTS):
        runner.submit(delivery)
    runner.start()
    await asyncio.sleep(0)  # the worker starts and works until its first pause
    refused_before_a_turn = len(host.letters)
    await host.wait_finished(EVENTS)
    assert 0 < refused_before_a_turn <= runner_module._YIELD_EVERY
    assert len(host.letters) == EVENTS
