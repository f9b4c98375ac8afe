"""Failures you can see: a warning with the traceback, the traceback in the dead letter,
errors not worth retrying dead-lettered at once, a timeout that states its limit."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from reagents import (
    AgentEvent,
    Backoff,
    FailureStage,
    MemoryDeadLetters,
    Pipeline,
    batch,
    by_key,
)
from reagents.dead_letter import DeadLetter
from reagents.pipelines.deliveries import ERROR_TYPE
from reagents.sinks.base import Sink
from reagents.sinks.memory import UnsavedDeadLetters

FAST = Backoff(max_retries=3, initial=0.001, max_delay=0.001, jitter=0)
FAILURES_LOGGER = "reagents.pipelines.failures"


async def run_one(
    pipeline: Pipeline, event: AgentEvent | None = None
) -> tuple[list[DeadLetter], list[AgentEvent]]:
    """Publish one event, run to the end; the dead letters and every bus event."""
    seen: list[AgentEvent] = []
    pipeline.events.subscribe(seen.append)
    pipeline.publish(event or AgentEvent(event_type="job", payload={"n": 1}))
    await asyncio.wait_for(pipeline.run(), 10)
    letters = pipeline.dead_letter_sink
    assert isinstance(letters, MemoryDeadLetters)
    return letters.letters, seen


def check_stock(event: AgentEvent) -> None:
    raise KeyError("sku")


async def test_a_raising_agent_warns_with_its_traceback_and_keeps_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.agent(subscription="type = job", retry=Backoff(max_retries=1, initial=0.001))(
        check_stock
    )
    with caplog.at_level(logging.WARNING, logger=FAILURES_LOGGER):
        [letter], _ = await run_one(pipeline)
    [record] = [r for r in caplog.records if r.name == FAILURES_LOGGER]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "agent check_stock" in message
    assert letter.event is not None
    assert letter.event.event_id in message
    assert "after 2 attempt(s)" in message
    assert "KeyError: 'sku'" in message
    assert record.exc_info is not None  # the traceback is printed with the warning
    assert "in check_stock" in caplog.text
    assert letter.traceback is not None
    assert "in check_stock" in letter.traceback
    assert letter.traceback.rstrip().endswith("KeyError: 'sku'")


async def test_a_failing_sink_warns_and_keeps_the_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Sink):
        async def write(self, event: AgentEvent) -> None:
            raise OSError("disk full")

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_sink(Broken("type = job", name="broken"))
    with caplog.at_level(logging.WARNING, logger=FAILURES_LOGGER):
        [letter], _ = await run_one(pipeline)
    assert letter.stage is FailureStage.SINK
    assert letter.traceback is not None
    assert "in write" in letter.traceback
    assert "sink:broken: event" in caplog.text
    assert "OSError: disk full" in caplog.text


async def test_an_input_that_does_not_fit_warns_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    schema = {"type": "object", "required": ["sku"]}
    pipeline.agent(id="picky", subscription="type = job", input_schema=schema)(lambda e: None)
    with caplog.at_level(logging.WARNING, logger=FAILURES_LOGGER):
        [letter], _ = await run_one(pipeline)
    assert letter.stage is FailureStage.VALIDATION
    assert letter.traceback is None
    [record] = [r for r in caplog.records if r.name == FAILURES_LOGGER]
    assert "agent picky" in record.getMessage()
    assert record.exc_info is None


async def test_a_flow_callback_that_raises_warns_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def no_key(event: AgentEvent) -> str:
        raise LookupError("no symbol")

    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.agent(
        id="desk", subscription="type = job", flow=[by_key(no_key, batch(2), max_keys=10)]
    )(lambda events: None)
    with caplog.at_level(logging.WARNING, logger=FAILURES_LOGGER):
        [letter], _ = await run_one(pipeline)
    assert letter.stage is FailureStage.FLOW
    assert letter.traceback is not None
    assert "in no_key" in letter.traceback
    assert "agent desk: event" in caplog.text
    assert "LookupError: no symbol" in caplog.text


# -- errors not worth retrying ---------------------------------------------------------


async def test_an_error_listed_in_no_retry_is_dead_lettered_at_once() -> None:
    calls: list[str] = []

    def parse(event: AgentEvent) -> None:
        calls.append(event.event_type)
        raise ValueError("not a number: 'x'")

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.agent(subscription="type = job", retry=FAST, no_retry=(KeyError, ValueError))(parse)
    [letter], _ = await run_one(pipeline)
    assert calls == ["job"]  # no retry
    assert letter.attempts == 1
    assert letter.error_type == "ValueError"
    assert letter.message == "not a number: 'x' (not retried: no_retry lists ValueError)"
    assert pipeline.stats()["parse"].retried == 0


async def test_other_errors_are_still_retried() -> None:
    calls: list[int] = []

    def flaky(event: AgentEvent) -> None:
        calls.append(event.retry_count)
        raise ConnectionError("down")

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.agent(subscription="type = job", retry=FAST, no_retry=ValueError)(flaky)
    [letter], _ = await run_one(pipeline)
    assert calls == [0, 1, 2, 3]
    assert (letter.attempts, letter.message) == (4, "down")


async def test_a_predicate_decides_and_a_request_gets_the_reason() -> None:
    def charge(event: AgentEvent) -> None:
        raise RuntimeError(f"card declined ({event.payload['code']})")

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.agent(
        subscription="type = job",
        retry=FAST,
        no_retry=lambda error: "declined" in str(error),
    )(charge)
    request = AgentEvent(event_type="job", payload={"code": 51}, target_agents=["charge"])
    [letter], seen = await run_one(pipeline, request)
    assert letter.attempts == 1
    assert letter.message.endswith("(not retried: the no_retry predicate is true for it)")
    [answer] = [e for e in seen if e.event_type == ERROR_TYPE]
    assert answer.payload["attempts"] == 1


async def test_a_predicate_that_raises_retries_as_usual(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def judge(error: Exception) -> bool:
        raise AttributeError("oops")

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.agent(id="w", subscription="type = job", retry=FAST, no_retry=judge)(check_stock)
    with caplog.at_level(logging.ERROR, logger="reagents.sinks.agent"):
        [letter], _ = await run_one(pipeline)
    assert letter.attempts == 4
    assert "agent w: its no_retry predicate raised" in caplog.text


# -- timeouts -------------------------------------------------------------------------


async def test_a_timeout_states_its_limit_and_where_the_handler_was() -> None:
    async def stuck(event: AgentEvent) -> None:
        await asyncio.sleep(10)

    pipeline = Pipeline("slow", dead_letters=MemoryDeadLetters())
    pipeline.agent(subscription="type = job", timeout=0.02, retry=Backoff(max_retries=0))(stuck)
    [letter], _ = await run_one(pipeline)
    assert letter.error_type == "TimeoutError"
    assert letter.message == "handler of agent 'stuck' timed out after 0.02 s (timeout=0.02)"
    assert letter.traceback is not None
    assert "in stuck" in letter.traceback


async def test_a_handlers_own_timeout_error_keeps_its_message() -> None:
    async def remote(event: AgentEvent) -> None:
        raise TimeoutError("the upstream API did not answer")

    pipeline = Pipeline("slow", dead_letters=MemoryDeadLetters())
    pipeline.agent(subscription="type = job", timeout=5.0, retry=Backoff(max_retries=0))(remote)
    [letter], _ = await run_one(pipeline)
    assert letter.message == "the upstream API did not answer"


# -- where dead letters go by default ------------------------------------------------------


async def test_a_pipeline_given_no_dead_letter_sink_writes_no_file_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    pipeline = Pipeline("shop")
    pipeline.agent(subscription="type = job", retry=Backoff(max_retries=0))(check_stock)
    with caplog.at_level(logging.WARNING):
        for n in range(3):
            pipeline.publish(AgentEvent(event_type="job", payload={"n": n}))
        await asyncio.wait_for(pipeline.run(), 10)
    assert list(tmp_path.iterdir()) == []  # no ./dead_letters.jsonl
    sink = pipeline.dead_letter_sink
    assert isinstance(sink, UnsavedDeadLetters)
    assert len(sink.letters) == 3
    [where] = [r for r in caplog.records if "kept in memory only" in r.getMessage()]
    assert where.levelno == logging.WARNING
