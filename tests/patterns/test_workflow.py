"""Workflows: a DAG with fan-out and fan-in, per-step timeouts and retries, resume."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from reagents import Agent, AgentEvent, Backoff, MemoryDeadLetters, MemorySink, Pipeline
from reagents.errors import ConfigurationError
from reagents.patterns.idempotency import MemoryIdempotencyStore, idempotent, reject
from reagents.patterns.saga_store import Action, Phase, SagaStatus
from reagents.patterns.workflow import Workflow, WorkflowCoordinator, WorkflowStep

T = TypeVar("T")
RETRY = Backoff(max_retries=2, initial=0.001, max_delay=0.01)

#         ┌─> prices ─┐
# fetch ──┤           ├─> report
#         └─> news ───┘
REPORT = Workflow(
    "report",
    (
        WorkflowStep("fetch", "fetcher", "fetch"),
        WorkflowStep("prices", "pricer", "price", depends_on=("fetch",), retry=RETRY),
        WorkflowStep("news", "reader", "read", depends_on=("fetch",), timeout=0.1, retry=RETRY),
        WorkflowStep("report", "writer", "write", depends_on=("prices", "news")),
    ),
)


class Harness:
    def __init__(self) -> None:
        self.pipeline = Pipeline("wf", dead_letters=MemoryDeadLetters())
        self.events = MemorySink("type = workflow.*", name="wf-events")
        self.pipeline.add_sink(self.events)
        self.log: list[str] = []
        self.inputs: dict[str, dict[str, Any]] = {}
        self.behaviour: dict[str, Callable[[AgentEvent], Awaitable[Any]]] = {}
        self.gate = asyncio.Event()
        self.keys = MemoryIdempotencyStore()
        for agent_id in ("fetcher", "pricer", "reader", "writer"):
            handler = idempotent(self._handler(agent_id), MemoryIdempotencyStore())
            subscription = f"type = {agent_id}.never"
            self.pipeline.add_agent(
                Agent(handler, id=agent_id, subscription=subscription, max_concurrent=2,
                      retry=Backoff(max_retries=0))
            )  # fmt: skip
        # opened from a path, the store is the coordinator's: `serve` closes both
        self.coordinator = WorkflowCoordinator(self.pipeline, ":memory:", [REPORT])
        self.store = self.coordinator.store

    def _handler(self, agent_id: str) -> Callable[[AgentEvent], Awaitable[Any]]:
        async def handle(event: AgentEvent) -> Any:
            step = event.payload["step_id"]
            self.log.append(f"start {step}")
            self.inputs[step] = event.payload["inputs"]
            special = self.behaviour.get(step)
            result = await special(event) if special else {"from": step}
            self.log.append(f"end {step}")
            return result

        return handle

    async def serve(self, work: Callable[[], Awaitable[T]]) -> T:
        task = asyncio.create_task(self.pipeline.run(forever=True))
        try:
            await asyncio.sleep(0)
            return await work()
        finally:
            await self.coordinator.close()
            self.pipeline.drain_timeout = 0.2
            self.pipeline.request_stop()
            await task


async def test_fan_out_runs_siblings_at_once_and_fan_in_waits_for_both() -> None:
    h = Harness()

    async def slow_prices(event: AgentEvent) -> dict[str, Any]:
        await asyncio.sleep(0.02)  # news starts and ends while prices is still running
        return {"price": 10}

    h.behaviour["prices"] = slow_prices
    record = await h.serve(lambda: h.coordinator.run("report", {"symbol": "X"}, workflow_id="w1"))
    assert record.status is SagaStatus.COMPLETED
    assert h.log[:2] == ["start fetch", "end fetch"]
    assert set(h.log[2:4]) == {"start prices", "start news"}
    assert h.log[-2:] == ["start report", "end report"]
    assert h.log.index("end news") < h.log.index("end prices")
    assert h.inputs["prices"] == {"fetch": {"from": "fetch"}}
    assert h.inputs["report"] == {"prices": {"price": 10}, "news": {"from": "news"}}
    assert record.results()["report"] == {"from": "report"}
    assert h.events.event_types()[0] == "workflow.started"
    assert h.events.event_types()[-1] == "workflow.completed"
    assert h.events.event_types().count("workflow.step_completed") == 4


async def test_a_step_is_retried_after_an_error_and_after_a_timeout() -> None:
    h = Harness()
    outcomes = iter(["raise", "sleep"])

    async def flaky(event: AgentEvent) -> dict[str, str]:
        what = next(outcomes, "ok")
        if what == "raise":
            raise RuntimeError("feed down")
        if what == "sleep":
            await asyncio.sleep(0.15)  # over the step's 0.1 s timeout
        return {"headline": "calm"}

    h.behaviour["news"] = flaky
    record = await h.serve(lambda: h.coordinator.run("report", {}, workflow_id="w2"))
    assert record.status is SagaStatus.COMPLETED
    actions = [e.action for e in record.log if e.step_id == "news" and e.action is not Action.SENT]
    assert actions == [Action.ERROR, Action.TIMED_OUT, Action.DONE]
    # the third attempt (same key) got the answer of the slow second one, not a new run
    assert h.log.count("start news") == 2
    assert record.results()["news"] == {"headline": "calm"}


async def test_a_step_out_of_retries_fails_the_workflow_and_stops_new_steps() -> None:
    h = Harness()

    async def broken(event: AgentEvent) -> None:
        raise RuntimeError("no quotes")

    h.behaviour["prices"] = broken
    record = await h.serve(lambda: h.coordinator.run("report", {}, workflow_id="w3"))
    assert record.status is SagaStatus.FAILED
    assert record.reason is not None
    assert record.reason.startswith("step 'prices' failed: 3 attempt(s), last: agent 'pricer'")
    assert "start report" not in h.log
    assert "end news" in h.log  # the sibling that was running finished
    assert h.events.event_types()[-1] == "workflow.failed"


async def test_a_rejection_is_final_and_not_retried() -> None:
    h = Harness()

    async def refuse(event: AgentEvent) -> AgentEvent:
        return reject(event, "symbol unknown")

    h.behaviour["fetch"] = refuse
    record = await h.serve(lambda: h.coordinator.run("report", {}, workflow_id="w4"))
    assert record.status is SagaStatus.FAILED
    assert record.reason == "step 'fetch' failed: symbol unknown"
    assert h.log == ["start fetch", "end fetch"]


async def test_resume_keeps_done_steps_and_resends_unanswered_ones() -> None:
    h = Harness()
    h.store.create("w5", "workflow", "report", {})
    for step in ("fetch", "prices"):
        h.store.append("w5", step, Phase.COMMAND, Action.SENT)
        h.store.append("w5", step, Phase.COMMAND, Action.DONE, {"result": {"old": step}})
    h.store.append("w5", "news", Phase.COMMAND, Action.SENT)

    async def work() -> Any:
        assert await h.coordinator.resume() == ["w5"]
        return await h.coordinator.wait("w5")

    record = await h.serve(work)
    assert record.status is SagaStatus.COMPLETED
    assert h.log == ["start news", "end news", "start report", "end report"]
    assert h.inputs["report"] == {"prices": {"old": "prices"}, "news": {"from": "news"}}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ((), "has no steps"),
        ((WorkflowStep("a", "x", "c", depends_on=("b",)),), r"depends on unknown \['b'\]"),
        (
            (
                WorkflowStep("a", "x", "c", depends_on=("b",)),
                WorkflowStep("b", "x", "c", depends_on=("a",)),
                WorkflowStep("c", "x", "c"),
            ),
            r"cycle among \['a', 'b'\]",
        ),
        ((WorkflowStep("a", "x", "c"), WorkflowStep("a", "y", "c")), "repeats step ids"),
    ],
)
def test_bad_graphs_fail_when_declared(steps: tuple[WorkflowStep, ...], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Workflow("w", steps)


def test_the_order_respects_every_dependency() -> None:
    order = REPORT.order()
    assert order[0] == "fetch"
    assert order[-1] == "report"
