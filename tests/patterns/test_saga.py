"""Sagas in-process: forward, compensation in reverse, retries, failure, resume, the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from reagents import Agent, AgentEvent, Backoff, MemoryDeadLetters, MemorySink, Pipeline
from reagents.errors import ConfigurationError
from reagents.patterns.idempotency import MemoryIdempotencyStore, idempotent
from reagents.patterns.saga import Saga, SagaCoordinator, SagaStep, reject
from reagents.patterns.saga_store import Action, Phase, SagaStatus, SqliteSagaStore

T = TypeVar("T")
NO_RETRY = Backoff(max_retries=0)
FAST = Backoff(max_retries=2, initial=0.001, max_delay=0.01)

Calls = list[tuple[str, str, str]]


class Harness:
    """A pipeline with three agents a, b, c that log (agent, event type, key) and obey `fail`."""

    def __init__(self, timeout: float = 0.5, compensation_retry: Backoff = FAST) -> None:
        self.letters = MemoryDeadLetters()
        self.pipeline = Pipeline("saga", dead_letters=self.letters)
        self.events = MemorySink("type = saga.*", name="saga-events")
        self.pipeline.add_sink(self.events)
        self.calls: Calls = []
        self.payloads: dict[str, dict[str, Any]] = {}
        self.fail: dict[tuple[str, str], Callable[[AgentEvent], Any]] = {}
        self.keys = MemoryIdempotencyStore()
        for name in "abc":
            handler = idempotent(self._handler(name), self.keys)
            # Agents only answer requests (addressed to them); a subscription that
            # broadcast events never match keeps status events away from them.
            agent = Agent(handler, id=name, retry=NO_RETRY, subscription="type IN ('do', 'undo')")
            self.pipeline.add_agent(agent)
        self.saga = Saga(
            "order",
            tuple(SagaStep(n, n, "do", "undo", timeout=timeout) for n in "abc"),
            compensation_retry=compensation_retry,
        )
        # opened from a path, the store is the coordinator's: `serve` closes both
        self.coordinator = SagaCoordinator(self.pipeline, ":memory:", [self.saga])
        self.store = self.coordinator.store

    def _handler(self, name: str) -> Callable[[AgentEvent], Any]:
        async def handle(event: AgentEvent) -> Any:
            key = event.payload["idempotency_key"]
            self.calls.append((name, event.event_type, key))
            self.payloads[key] = event.payload
            behaviour = self.fail.get((name, event.event_type))
            if behaviour is not None:
                return await behaviour(event)
            return {"by": name}

        return handle

    async def serve(self, work: Callable[[], Awaitable[T]]) -> T:
        task = asyncio.create_task(self.pipeline.run(forever=True))
        try:
            await asyncio.sleep(0)
            return await work()
        finally:
            await self.coordinator.close()
            self.pipeline.request_stop()
            await task

    def forward(self) -> list[str]:
        return [agent for agent, kind, _ in self.calls if kind == "do"]

    def undone(self) -> list[str]:
        return [agent for agent, kind, _ in self.calls if kind == "undo"]


async def rejecting(event: AgentEvent) -> AgentEvent:
    return reject(event, "card declined")


async def raising(event: AgentEvent) -> None:
    raise RuntimeError("disk full")


async def too_slow(event: AgentEvent) -> None:
    await asyncio.sleep(0.3)


async def test_a_saga_runs_every_step_in_order_and_completes() -> None:
    h = Harness()
    record = await h.serve(lambda: h.coordinator.run("order", {"sku": "X"}, saga_id="s1"))
    assert record.status is SagaStatus.COMPLETED
    assert record.reason is None
    assert h.calls == [("a", "do", "s1:a"), ("b", "do", "s1:b"), ("c", "do", "s1:c")]
    assert h.payloads["s1:c"]["sku"] == "X"
    assert h.payloads["s1:c"]["results"] == {"a": {"by": "a"}, "b": {"by": "b"}}
    assert record.results() == {n: {"by": n} for n in "abc"}
    assert h.events.event_types() == [
        "saga.started",
        "saga.step_completed",
        "saga.step_completed",
        "saga.step_completed",
        "saga.completed",
    ]
    assert {e.correlation_id for e in h.events.events} == {"s1"}
    assert h.letters.letters == []


async def test_a_rejected_step_compensates_every_completed_step_in_reverse() -> None:
    h = Harness()
    h.fail[("c", "do")] = rejecting
    record = await h.serve(lambda: h.coordinator.run("order", {}, saga_id="s2"))
    assert record.status is SagaStatus.COMPENSATED
    assert record.reason == "step 'c' rejected: card declined"
    assert h.forward() == ["a", "b", "c"]
    assert h.undone() == ["b", "a"]
    assert h.payloads["s2:b:compensate"]["result"] == {"by": "b"}
    assert h.events.event_types()[-4:] == [
        "saga.compensating",
        "saga.step_compensated",
        "saga.step_compensated",
        "saga.compensated",
    ]


async def test_a_failing_first_step_has_nothing_to_compensate() -> None:
    h = Harness()
    h.fail[("a", "do")] = rejecting
    record = await h.serve(lambda: h.coordinator.run("order", {}))
    assert record.status is SagaStatus.COMPENSATED
    assert h.forward() == ["a"]
    assert h.undone() == []


async def test_an_agent_error_counts_as_not_applied() -> None:
    h = Harness()
    h.fail[("b", "do")] = raising
    record = await h.serve(lambda: h.coordinator.run("order", {}, saga_id="s3"))
    assert record.status is SagaStatus.COMPENSATED
    assert record.reason is not None
    assert "RuntimeError: disk full" in record.reason
    assert h.undone() == ["a"]
    entry = record.last("b")
    assert entry is not None
    assert entry.action is Action.ERROR


async def test_a_timed_out_step_may_be_applied_so_it_is_compensated_too() -> None:
    # b's compensation waits behind its slow command, so it is retried until b is free.
    h = Harness(timeout=0.1, compensation_retry=Backoff(max_retries=5, initial=0.05))
    h.fail[("b", "do")] = too_slow
    h.pipeline.drain_timeout = 0.1
    record = await h.serve(lambda: h.coordinator.run("order", {}, saga_id="s4"))
    assert record.status is SagaStatus.COMPENSATED
    assert record.reason is not None
    assert record.reason.startswith("step 'b' timed_out")
    assert h.forward() == ["a", "b"]
    assert h.undone() == ["b", "a"]
    assert h.payloads["s4:b:compensate"]["result"] is None


async def test_a_flaky_compensation_is_retried_with_the_same_key() -> None:
    h = Harness()
    h.fail[("c", "do")] = rejecting
    failures = iter([RuntimeError("busy"), RuntimeError("busy")])

    async def flaky(event: AgentEvent) -> dict[str, str]:
        error = next(failures, None)
        if error is not None:
            raise error
        return {"undone": "b"}

    h.fail[("b", "undo")] = flaky
    record = await h.serve(lambda: h.coordinator.run("order", {}, saga_id="s5"))
    assert record.status is SagaStatus.COMPENSATED
    assert h.undone() == ["b", "b", "b", "a"]
    assert {key for _, kind, key in h.calls if kind == "undo" and key.startswith("s5:b")} == {
        "s5:b:compensate"
    }
    assert record.count("b", Phase.COMPENSATION, Action.SENT) == 3
    assert record.count("b", Phase.COMPENSATION, Action.ERROR) == 2


async def test_a_compensation_that_keeps_failing_leaves_the_saga_failed_for_a_human() -> None:
    h = Harness()
    h.fail[("c", "do")] = rejecting
    h.fail[("b", "undo")] = raising

    async def work() -> tuple[SagaStatus, str | None, list[str], SagaStatus]:
        failed = await h.coordinator.run("order", {}, saga_id="s6")
        undone_then = h.undone()
        del h.fail[("b", "undo")]  # a human fixed agent b
        retried = await h.coordinator.retry("s6")
        return failed.status, failed.reason, undone_then, retried.status

    status, reason, undone, after_retry = await h.serve(work)
    assert status is SagaStatus.FAILED
    assert reason == (
        "compensation of step 'b' failed after 3 attempt(s): agent 'b' could not handle "
        "'undo': RuntimeError: disk full (saga was compensating because step 'c' "
        "rejected: card declined)"
    )
    assert undone == ["b", "b", "b", "a"]  # a is still compensated
    assert after_retry is SagaStatus.COMPENSATED
    assert h.undone() == ["b", "b", "b", "a", "b"]  # only b again: a was done
    assert "saga.failed" in h.events.event_types()


async def test_resume_resends_an_unanswered_command_with_the_same_key() -> None:
    h = Harness()
    h.store.create("s7", "saga", "order", {"sku": "Y"})
    h.store.append("s7", "a", Phase.COMMAND, Action.SENT)
    h.store.append("s7", "a", Phase.COMMAND, Action.DONE, {"result": {"by": "a"}})
    h.store.append("s7", "b", Phase.COMMAND, Action.SENT)
    h.keys.put("s7:b", [{"dict": {"by": "b", "before": "crash"}}])  # b had applied it

    async def work() -> Any:
        assert await h.coordinator.resume() == ["s7"]
        return await h.coordinator.wait("s7")

    record = await h.serve(work)
    assert record.status is SagaStatus.COMPLETED
    assert h.calls == [("c", "do", "s7:c")]  # b answered from memory, a skipped
    assert record.results()["b"] == {"by": "b", "before": "crash"}
    assert h.events.event_types()[0] == "saga.resumed"


async def test_resume_keeps_compensating_from_where_the_log_stopped() -> None:
    h = Harness()
    h.store.create("s8", "saga", "order", {})
    for step, action in [("a", Action.DONE), ("b", Action.DONE), ("c", Action.REJECTED)]:
        h.store.append("s8", step, Phase.COMMAND, action, {"result": step, "reason": "no"})
    h.store.set_status("s8", SagaStatus.COMPENSATING, "step 'c' rejected: no")
    h.store.append("s8", "b", Phase.COMPENSATION, Action.DONE)

    async def work() -> Any:
        await h.coordinator.resume()
        return await h.coordinator.wait("s8")

    record = await h.serve(work)
    assert record.status is SagaStatus.COMPENSATED
    assert h.calls == [("a", "undo", "s8:a:compensate")]


async def test_starting_an_existing_saga_id_does_not_run_it_twice() -> None:
    h = Harness()

    async def work() -> tuple[str, str, SagaStatus]:
        first = await h.coordinator.start("order", {}, saga_id="s9")
        second = await h.coordinator.start("order", {}, saga_id="s9")
        record = await h.coordinator.wait("s9")
        again = await h.coordinator.run("order", {}, saga_id="s9")
        assert again.status is SagaStatus.COMPLETED
        return first, second, record.status

    assert await h.serve(work) == ("s9", "s9", SagaStatus.COMPLETED)
    assert h.forward() == ["a", "b", "c"]


async def test_status_is_queryable_and_unknown_sagas_are_refused() -> None:
    h = Harness()

    async def work() -> None:
        with pytest.raises(ConfigurationError, match="unknown saga 'refund'"):
            await h.coordinator.start("refund", {})
        with pytest.raises(KeyError, match="no saga 'nope'"):
            h.coordinator.status("nope")
        saga_id = await h.coordinator.start("order", {})
        assert h.coordinator.status(saga_id).status is SagaStatus.RUNNING
        await h.coordinator.wait(saga_id)
        assert h.coordinator.status(saga_id).status is SagaStatus.COMPLETED

    await h.serve(work)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Saga("s", ()), "has no steps"),
        (lambda: Saga("s", (SagaStep("a", "x", "do"), SagaStep("a", "y", "do"))), "repeats"),
        (lambda: SagaStep("a:b", "x", "do"), "without ':'"),
        (lambda: SagaStep("a", "x", "do", timeout=0), "timeout must be positive"),
    ],
)
def test_bad_saga_definitions_fail_when_declared(build: Callable[[], Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        build()


def test_the_sqlite_store_keeps_runs_and_their_log_across_reopening(tmp_path: Path) -> None:
    path = tmp_path / "sagas.db"
    store = SqliteSagaStore(path)
    assert store.create("r1", "saga", "order", {"n": 1})
    assert not store.create("r1", "saga", "other", {})
    store.create("r2", "saga", "order", {})
    store.create("w1", "workflow", "flow", {})
    store.append("r1", "a", Phase.COMMAND, Action.SENT)
    store.append("r1", "a", Phase.COMMAND, Action.DONE, {"result": {"x": 1}})
    store.set_status("r2", SagaStatus.COMPLETED)
    store.close()

    reopened = SqliteSagaStore(path)
    [record] = reopened.unfinished("saga")
    assert (record.run_id, record.name, record.data, record.status) == (
        "r1",
        "order",
        {"n": 1},
        SagaStatus.RUNNING,
    )
    assert [(e.step_id, e.action) for e in record.log] == [("a", Action.SENT), ("a", Action.DONE)]
    assert record.results() == {"a": {"x": 1}}
    assert [r.run_id for r in reopened.unfinished("workflow")] == ["w1"]
    with pytest.raises(KeyError, match="no saga or workflow 'zz'"):
        reopened.set_status("zz", SagaStatus.FAILED)
    reopened.close()
