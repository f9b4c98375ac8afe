"""MemorySink, MemoryDeadLetters and UnsavedDeadLetters: collect what a pipeline wrote."""

from __future__ import annotations

import logging

import pytest

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.sinks.memory import MemoryDeadLetters, MemorySink, UnsavedDeadLetters


async def test_memory_sink_collects_events_in_order() -> None:
    sink = MemorySink(subscription=where_type("order.*"), name="orders")
    events = [AgentEvent(event_type="order.created"), AgentEvent(event_type="order.paid")]
    for event in events:
        await sink.write(event)
    await sink.close()
    assert sink.events == events
    assert len(sink) == 2
    assert sink.event_types() == ["order.created", "order.paid"]
    assert sink.describe() == "orders"
    assert sink.subscription.matches(AgentEvent(event_type="order.x"))
    assert not sink.subscription.matches(AgentEvent(event_type="alert"))


def test_memory_sink_defaults() -> None:
    sink = MemorySink()
    assert sink.name == "memory"
    assert sink.subscription.matches(AgentEvent(event_type="anything"))
    assert sink.events == []


def test_memory_dead_letters_collects_letters() -> None:
    sink = MemoryDeadLetters()
    letter = DeadLetter.from_error(FailureStage.ROUTING, RuntimeError("no route"), raw=b"x")
    sink.write(letter)
    sink.close()
    assert sink.letters == [letter]
    assert len(sink) == 1


def letter(n: int) -> DeadLetter:
    return DeadLetter.from_error(FailureStage.AGENT, ValueError(f"bad {n}"), raw=b"x")


def test_memory_dead_letters_with_a_limit_keep_the_last_ones() -> None:
    sink = MemoryDeadLetters(limit=2)
    for n in range(5):
        sink.write(letter(n))
    assert [x.message for x in sink.letters] == ["bad 3", "bad 4"]
    assert (len(sink), sink.dropped) == (2, 3)
    assert sink.describe() == "memory, not saved (the last 2)"
    assert MemoryDeadLetters().describe() == "memory, not saved"
    with pytest.raises(ValueError, match="limit"):
        MemoryDeadLetters(limit=0)


def test_unsaved_dead_letters_warn_once_where_they_go(caplog: pytest.LogCaptureFixture) -> None:
    sink = UnsavedDeadLetters(limit=3)
    with caplog.at_level(logging.WARNING, logger="reagents.sinks.memory"):
        for n in range(5):
            sink.write(letter(n))
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "kept in memory only" in record.getMessage()
    assert "agent, ValueError: bad 0" in record.getMessage()
    assert "dead_letters=" in record.getMessage()
    assert len(sink) == 3
    assert sink.describe() == (
        "memory, not saved (the last 3): declare Pipeline(dead_letters='dead_letters.jsonl') "
        "to keep them"
    )
