"""MemorySource: bounded publish buffer, explicit overflow policies, drain on stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from reagents.delivery import Incoming
from reagents.errors import BufferOverflowError
from reagents.events import AgentEvent
from reagents.policies import DropReason
from reagents.sources.memory import MemorySource, SourceClosedError, SourceFullError


def ev(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


def numbers(batches: Sequence[Sequence[Incoming]]) -> list[int]:
    return [
        i.item.payload["n"] for batch in batches for i in batch if isinstance(i.item, AgentEvent)
    ]


async def collect(source: MemorySource) -> list[Sequence[Incoming]]:
    return [batch async for batch in source.batches()]


async def test_yields_buffered_events_in_batches_then_ends_after_stop() -> None:
    source = MemorySource(batch_size=2)
    for n in range(5):
        source.publish_nowait(ev(n))
    source.stop()
    batches = await collect(source)
    assert [len(b) for b in batches] == [2, 2, 1]
    assert numbers(batches) == [0, 1, 2, 3, 4]
    assert batches[0][0].origin == "memory#1"
    assert not source.pausable


async def test_waits_while_empty_and_wakes_on_publish() -> None:
    source = MemorySource()
    seen: list[int] = []

    async def consume() -> None:
        async for batch in source.batches():
            seen.extend(numbers([batch]))

    task = asyncio.create_task(consume())
    await asyncio.sleep(0)
    assert not task.done()
    source.publish_nowait(ev(1))
    await asyncio.sleep(0)
    assert seen == [1]
    await source.close()
    await asyncio.wait_for(task, 1)
    assert seen == [1]


async def test_publish_after_stop_is_refused() -> None:
    source = MemorySource()
    source.stop()
    with pytest.raises(SourceClosedError, match="stopped"):
        source.publish_nowait(ev(1))
    with pytest.raises(SourceClosedError):
        await source.publish(ev(1))


async def test_drop_oldest_hands_the_evicted_event_to_on_drop() -> None:
    dropped: list[tuple[int, DropReason]] = []
    source = MemorySource(
        capacity=2, overflow="drop_oldest", on_drop=lambda e, r: dropped.append((e.payload["n"], r))
    )
    for n in range(4):
        source.publish_nowait(ev(n))
    source.stop()
    assert numbers(await collect(source)) == [2, 3]
    assert dropped == [(0, DropReason.DROP_OLDEST), (1, DropReason.DROP_OLDEST)]


async def test_drop_newest_hands_the_rejected_event_to_on_drop() -> None:
    dropped: list[tuple[int, DropReason]] = []
    source = MemorySource(capacity=2, overflow="drop_newest")
    source.on_drop = lambda e, r: dropped.append((e.payload["n"], r))  # set later by a pipeline
    for n in range(4):
        source.publish_nowait(ev(n))
    source.stop()
    assert numbers(await collect(source)) == [0, 1]
    assert dropped == [(2, DropReason.DROP_NEWEST), (3, DropReason.DROP_NEWEST)]


async def test_drop_without_on_drop_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    source = MemorySource(capacity=1, overflow="drop_newest")
    source.publish_nowait(ev(0))
    source.publish_nowait(ev(1))
    assert "dropped event" in caplog.text


async def test_error_policy_raises_and_keeps_the_buffer() -> None:
    source = MemorySource(name="feed", capacity=1, overflow="error")
    source.publish_nowait(ev(0))
    with pytest.raises(BufferOverflowError, match=r"'feed' is full \(capacity 1"):
        source.publish_nowait(ev(1))
    with pytest.raises(SourceFullError):
        await source.publish(ev(2))
    assert len(source) == 1


async def test_block_policy_nowait_raises_but_publish_waits_for_room() -> None:
    source = MemorySource(capacity=1, batch_size=1)
    source.publish_nowait(ev(0))
    with pytest.raises(SourceFullError, match="await publish"):
        source.publish_nowait(ev(1))

    waiting = asyncio.create_task(source.publish(ev(1)))
    await asyncio.sleep(0)
    assert not waiting.done()
    batches = source.batches()
    first = await anext(batches)
    await asyncio.wait_for(waiting, 1)
    source.stop()
    rest = [batch async for batch in batches]
    assert numbers([first, *rest]) == [0, 1]


async def test_stop_wakes_a_blocked_publisher_with_an_error() -> None:
    source = MemorySource(capacity=1)
    source.publish_nowait(ev(0))
    waiting = asyncio.create_task(source.publish(ev(1)))
    await asyncio.sleep(0)
    source.stop()
    with pytest.raises(SourceClosedError):
        await asyncio.wait_for(waiting, 1)


async def test_from_events_and_observe() -> None:
    source = MemorySource.from_events([ev(1), ev(2)])
    seen: list[int] = []
    done = asyncio.Event()
    source.observe().subscribe(on_next=lambda e: seen.append(e.payload["n"]), on_completed=done.set)
    await asyncio.wait_for(done.wait(), 1)
    assert seen == [1, 2]


@pytest.mark.parametrize(("capacity", "batch_size"), [(0, 1), (1, 0)])
def test_rejects_invalid_bounds(capacity: int, batch_size: int) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        MemorySource(capacity=capacity, batch_size=batch_size)
