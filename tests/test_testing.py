"""The public test helpers in reagents.testing."""

from __future__ import annotations

import asyncio

import pytest
from reactivex.testing import ReactiveTest, TestScheduler

from reagents import AgentEvent, where_type
from reagents.errors import EventDecodeError
from reagents.testing import (
    MemoryLog,
    MemoryLogSink,
    MemoryLogSource,
    cold_events,
    hot_events,
    marbles_of,
    memory_pipeline,
    run_events,
)

QUOTE = AgentEvent(event_type="quote", payload={"p": 1})
ALERT = AgentEvent(event_type="alert", priority=1)
QUOTE2 = AgentEvent(event_type="quote", payload={"p": 2})
NAMES = {"a": QUOTE, "b": ALERT, "c": QUOTE2}


def test_cold_events_through_a_filter_read_back_as_marbles() -> None:
    scheduler = TestScheduler()
    source = cold_events(scheduler, "a-b-c|", NAMES)
    result = scheduler.start(lambda: source.pipe(where_type("quote")))
    assert marbles_of(result.messages, NAMES) == "a---c|"
    assert source.subscriptions == [ReactiveTest.subscribe(200, 205)]


def test_hot_events_start_at_subscription_time_and_group_simultaneous_values() -> None:
    scheduler = TestScheduler()
    source = hot_events(scheduler, "-(a,b)--c-|", NAMES)
    result = scheduler.start(lambda: source)
    assert result.messages[0].time == result.messages[1].time == 201
    assert marbles_of(result.messages, NAMES) == "-(a,b)--c-|"


def test_unknown_marble_names_are_reported() -> None:
    with pytest.raises(KeyError, match=r"\['x'\]"):
        cold_events(TestScheduler(), "a-x|", NAMES)
    with pytest.raises(KeyError, match="no marble name"):
        marbles_of([ReactiveTest.on_next(200, ALERT)], {"a": QUOTE})


async def test_run_events_reports_bus_traffic_and_dead_letters() -> None:
    pipeline = memory_pipeline()

    @pipeline.agent(subscription="type = quote")
    def pricer(e: AgentEvent) -> AgentEvent:
        if e.payload["p"] == 2:
            raise ValueError("bad price")
        return e.derive("priced")

    run = await run_events(pipeline, [QUOTE, QUOTE2])
    assert run.types() == ["quote", "quote", "priced"]
    assert run.of_type("priced")[0].causation_id == QUOTE.event_id
    assert [letter.message for letter in run.dead_letters] == ["bad price"]


# -- MemoryLog: the in-memory double with the Kafka source's semantics ----------------------
# (the transport contract in tests/transports runs against it in full)


async def test_a_following_log_source_waits_for_appends_until_stopped() -> None:
    log = MemoryLog("live")
    source = MemoryLogSource(log, follow=True, batch_size=10)
    batches = source.batches()
    log.append_events([QUOTE])
    first = await anext(batches)
    waiting = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing more in the log: it waits, it does not end
    log.append_events([ALERT, QUOTE2])
    second = await asyncio.wait_for(waiting, 5)
    assert [r.item for r in [*first, *second]] == [QUOTE, ALERT, QUOTE2]
    ending = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(0)
    source.stop()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(ending, 5)


async def test_each_group_has_its_own_committed_offset_and_a_closed_source_commits_nothing() -> (
    None
):
    log = MemoryLog()
    log.append_events([QUOTE, ALERT, QUOTE2])
    source = MemoryLogSource(log, group="a")
    records = [r async for batch in source.batches() for r in batch]
    records[0].ack()
    assert (log.committed("a"), log.committed("b"), source.committed) == (1, 0, 1)
    assert source.in_flight == 2
    await source.close()
    records[1].ack()  # too late: the consumer is gone
    assert log.committed("a") == 1
    with pytest.raises(ValueError, match="outside log"):
        log.commit("a", 4)


async def test_a_log_sink_appends_its_buffer_every_n_writes_and_on_flush() -> None:
    log = MemoryLog()
    sink = MemoryLogSink(log, flush_every=2)
    await sink.write(QUOTE)
    assert (len(log), sink.pending) == (0, 1)
    await sink.write(ALERT)
    assert (len(log), sink.pending) == (2, 0)
    await sink.write(QUOTE2)
    await sink.close()
    assert log.events() == [QUOTE, ALERT, QUOTE2]
    log.append(b"not json")
    with pytest.raises(EventDecodeError):
        log.events()
