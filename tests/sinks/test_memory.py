"""MemorySink and MemoryDeadLetters: collect what a pipeline wrote."""

from __future__ import annotations

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent
from reagents.operators.filters import where_type
from reagents.sinks.memory import MemoryDeadLetters, MemorySink


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
