"""`Pipeline.remove_agent`: no new events reach the agent, its queued work finishes or
is dead-lettered, each source record is acknowledged exactly once and never early,
then the pipeline forgets it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

import pytest

from reagents.delivery import Incoming
from reagents.events import AgentEvent
from reagents.operators.batch import batch
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.base import Source


class CheckedSource(Source):
    """Yields its events; each ack is recorded and checked by ``early`` at that moment."""

    pausable = False

    def __init__(self, events: Sequence[AgentEvent], early: Callable[[str], bool]) -> None:
        self.name = "checked"
        self.events = list(events)
        self.acked: list[str] = []
        self.early: list[str] = []
        self._is_early = early

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        yield [Incoming(e, ack=self._acker(e.event_id)) for e in self.events]

    def _acker(self, event_id: str) -> Callable[[], None]:
        def ack() -> None:
            self.acked.append(event_id)
            if self._is_early(event_id):
                self.early.append(event_id)

        return ack


def ticks(count: int) -> list[AgentEvent]:
    return [AgentEvent(event_type="tick", payload={"n": n}) for n in range(count)]


async def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


async def test_queued_events_are_handled_then_the_agent_is_forgotten() -> None:
    events = ticks(30)
    handled: list[str] = []
    source = CheckedSource(events, early=lambda event_id: event_id not in handled)
    pipeline = Pipeline("remove", sources=[source], dead_letters=MemoryDeadLetters())
    gate = asyncio.Event()
    late: list[AgentEvent] = []

    @pipeline.agent(subscription="type = tick")
    async def slow(event: AgentEvent) -> None:
        await gate.wait()
        handled.append(event.event_id)

    @pipeline.agent(subscription="type = late")
    async def other(event: AgentEvent) -> None:
        late.append(event)

    async with pipeline.serving():
        await wait_for(lambda: pipeline.stats()["slow"].queue_depth == 29)
        removal = asyncio.create_task(pipeline.remove_agent("slow"))
        await asyncio.sleep(0.01)
        assert not removal.done()  # its queue is still full
        assert "slow" not in pipeline.subscriptions_index().get("tick", [])
        assert [a.id for a in pipeline.agents] == ["other"]
        pipeline.publish(AgentEvent(event_type="tick", payload={"n": 99}))
        pipeline.publish(AgentEvent(event_type="late"))
        await wait_for(lambda: len(late) == 1)
        assert source.acked == []  # nothing acknowledged before it was handled
        gate.set()
        removed = await asyncio.wait_for(removal, 5)
        assert removed.id == "slow"
        assert sorted(handled) == sorted(e.event_id for e in events)  # once each, not n=99
        assert sorted(source.acked) == sorted(handled)
        assert source.early == []
        assert "slow" not in pipeline.stats()
        assert pipeline.in_flight == 0
        with pytest.raises(KeyError, match="no agent 'slow'"):
            pipeline.get_agent("slow")


async def test_failing_work_of_a_removed_agent_is_retried_then_dead_lettered() -> None:
    events = ticks(5)
    letters = MemoryDeadLetters()
    attempts: dict[str, int] = {}
    source = CheckedSource(events, early=lambda event_id: attempts.get(event_id, 0) < 3)
    pipeline = Pipeline("remove", sources=[source], dead_letters=letters)
    started = asyncio.Event()

    @pipeline.agent(retry=Backoff(max_retries=2, initial=0.01, jitter=0))
    async def broken(event: AgentEvent) -> None:
        attempts[event.event_id] = attempts.get(event.event_id, 0) + 1
        started.set()
        raise RuntimeError("down")

    async with pipeline.serving():
        await started.wait()
        await asyncio.wait_for(pipeline.remove_agent("broken"), 5)
        assert sorted(attempts.values()) == [3] * 5  # the first try and two retries each
        assert sorted(letter.event.event_id for letter in letters.letters) == sorted(  # type: ignore[union-attr]
            e.event_id for e in events
        )
        assert sorted(source.acked) == sorted(e.event_id for e in events)
        assert source.early == []


async def test_a_removed_agents_flow_is_flushed() -> None:
    events = ticks(5)
    batches: list[list[int]] = []
    source = CheckedSource(events, early=lambda _: sum(map(len, batches)) < 5)
    pipeline = Pipeline("remove", sources=[source], dead_letters=MemoryDeadLetters())

    @pipeline.agent(flow=lambda events: events.pipe(batch(count=100)))
    async def batcher(group: list[AgentEvent]) -> None:
        batches.append([e.payload["n"] for e in group])

    async with pipeline.serving():
        await wait_for(lambda: pipeline.stats()["batcher"].received == 5)
        assert batches == []  # the batch waits for 95 more
        await asyncio.wait_for(pipeline.remove_agent("batcher"), 5)
        assert batches == [[0, 1, 2, 3, 4]]
        assert len(source.acked) == 5
        assert source.early == []


async def test_remove_before_running_and_unknown_ids() -> None:
    pipeline = Pipeline("remove")

    @pipeline.agent()
    async def gone(event: AgentEvent) -> None:
        return None

    assert (await pipeline.remove_agent("gone")).id == "gone"
    assert pipeline.agents == []
    with pytest.raises(KeyError, match=r"no agent 'gone' \(agents: none\)"):
        await pipeline.remove_agent("gone")
    pipeline.add_agent(gone)  # the id is free again
    assert [a.id for a in pipeline.agents] == ["gone"]


async def test_a_cancelled_removal_still_finishes_the_work() -> None:
    events = ticks(3)
    handled: list[str] = []
    source = CheckedSource(events, early=lambda event_id: event_id not in handled)
    pipeline = Pipeline("remove", sources=[source], dead_letters=MemoryDeadLetters())
    gate = asyncio.Event()

    @pipeline.agent()
    async def slow(event: AgentEvent) -> None:
        await gate.wait()
        handled.append(event.event_id)

    async with pipeline.serving():
        await wait_for(lambda: pipeline.stats()["slow"].queue_depth == 2)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pipeline.remove_agent("slow"), 0.05)
        assert "slow" in pipeline.stats()  # retiring: still counted, not routed to
        assert pipeline.agents == []
        gate.set()
        await asyncio.wait_for(pipeline.remove_agent("slow"), 5)  # waits for it again
        assert len(handled) == 3
        assert "slow" not in pipeline.stats()
        assert source.early == []
