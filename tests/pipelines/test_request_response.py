"""Request/response over the bus, and agents' input/output capabilities."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

import pytest
from pydantic import BaseModel

from reagents import (
    Agent,
    AgentEvent,
    Backoff,
    FailureStage,
    Incoming,
    MemoryDeadLetters,
    Pipeline,
    Source,
    SourceFailedError,
    addressed_only,
)
from reagents.errors import ConfigurationError
from reagents.pipelines.requests import AgentRequestError, RequestTimeoutError

T = TypeVar("T")
NO_RETRY = Backoff(max_retries=0)


class Quote(BaseModel):
    symbol: str
    qty: int


@pytest.fixture
def letters() -> MemoryDeadLetters:
    return MemoryDeadLetters()


@pytest.fixture
async def running(letters: MemoryDeadLetters) -> AsyncIterator[Pipeline]:
    pipeline = Pipeline("rr", dead_letters=letters)
    yield pipeline
    pipeline.request_stop()


async def serve(pipeline: Pipeline, work: Callable[[], Awaitable[T]]) -> T:
    async with pipeline.serving():
        return await work()


async def test_concurrent_requests_get_their_own_answers(running: Pipeline) -> None:
    @running.agent(max_concurrent=8)
    async def doubler(e: AgentEvent) -> dict[str, int]:
        await asyncio.sleep(random.random() / 100)
        return {"double": e.payload["n"] * 2}

    async def work() -> list[AgentEvent]:
        return await asyncio.gather(*(running.request("doubler", {"n": n}) for n in range(30)))

    answers = await serve(running, work)
    assert [a.payload["result"]["double"] for a in answers] == [n * 2 for n in range(30)]
    assert all(a.source_agent == "doubler" for a in answers)


async def test_a_request_times_out_with_a_clear_error(running: Pipeline) -> None:
    @running.agent()
    async def sleepy(e: AgentEvent) -> None:
        await asyncio.sleep(5)

    async def work() -> None:
        with pytest.raises(RequestTimeoutError, match="agent 'sleepy' did not answer 'request'"):
            await running.request("sleepy", {}, timeout=0.05)

    running.drain_timeout = 0.1
    await serve(running, work)


async def test_a_failing_agent_answers_agent_error(
    running: Pipeline, letters: MemoryDeadLetters
) -> None:
    @running.agent(retry=NO_RETRY)
    def broken(e: AgentEvent) -> None:
        raise KeyError("sku")

    async def work() -> None:
        with pytest.raises(AgentRequestError, match="could not handle 'reserve': KeyError") as err:
            await running.request("broken", {"sku": "x"}, event_type="reserve")
        answer = err.value.answer
        assert isinstance(answer, AgentEvent)
        assert answer.event_type == "agent_error"
        assert answer.payload["stage"] == "agent"

    await serve(running, work)
    assert letters.letters[0].agent_id == "broken"


async def test_invalid_input_is_rejected_without_calling_the_handler(
    running: Pipeline, letters: MemoryDeadLetters
) -> None:
    calls: list[AgentEvent] = []
    running.add_agent(Agent(calls.append, id="trader", input_schema=Quote))

    async def work() -> None:
        with pytest.raises(AgentRequestError, match=r"payload\.qty"):
            await running.request("trader", {"symbol": "AAPL", "qty": "many"})

    await serve(running, work)
    assert calls == []
    [letter] = letters.letters
    assert letter.stage is FailureStage.VALIDATION
    assert letter.attempts == 1


async def test_invalid_output_fails_the_step(running: Pipeline, letters: MemoryDeadLetters) -> None:
    schema = {"type": "object", "required": ["price"], "properties": {"price": {"type": "number"}}}
    running.add_agent(
        Agent(lambda e: {"price": "free"}, id="pricer", output_schema=schema, retry=NO_RETRY)
    )
    running.add_agent(Agent(lambda e: {"price": 3.5}, id="honest", output_schema=schema))

    async def work() -> AgentEvent:
        with pytest.raises(AgentRequestError, match="PayloadValidationError"):
            await running.request("pricer", {})
        return await running.request("honest", {})

    good = await serve(running, work)
    assert good.payload["result"] == {"price": 3.5}
    assert letters.letters[0].agent_id == "pricer"


async def test_an_addressed_only_agent_sees_requests_but_not_traffic(running: Pipeline) -> None:
    seen: list[str] = []

    def svc(e: AgentEvent) -> dict[str, object]:
        seen.append(e.event_type)
        return {"ok": True}

    running.add_agent(Agent(svc, id="svc", subscription=addressed_only()))

    async def work() -> None:
        await running.publish_async(AgentEvent(event_type="noise"))
        await running.request("svc", {}, event_type="ping")

    await serve(running, work)
    assert seen == ["ping"]
    assert running.subscriptions_index() == {}


async def test_serving_raises_what_broke_the_pipeline_at_start() -> None:
    class Broken(Source):
        name = "broken"

        async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
            raise OSError("no such device")
            yield []

    pipeline = Pipeline("p", sources=[Broken()], dead_letters=MemoryDeadLetters())
    with pytest.raises(SourceFailedError, match="no such device"):
        async with pipeline.serving():
            await asyncio.sleep(0.01)


async def test_requests_need_a_running_pipeline(running: Pipeline) -> None:
    with pytest.raises(RuntimeError, match="must be running"):
        await running.request("anyone", {})


def test_a_broken_capability_schema_fails_at_declaration() -> None:
    with pytest.raises(ConfigurationError, match="'x input' is invalid"):
        Agent(lambda e: None, id="x", input_schema={"type": 12})
