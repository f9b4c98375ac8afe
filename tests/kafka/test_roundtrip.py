"""Produce → pipeline (KafkaSource → agent → KafkaSink) → produce, on a real broker."""

from __future__ import annotations

import asyncio

import pytest

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, numbered, produce

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def read_all(config: KafkaConfig, topic: str, idle: float = 1.5) -> list[AgentEvent]:
    """Every event of ``topic`` (no group: all partitions from the start, until idle)."""
    source = KafkaSource(topic, group_id=None, config=config, start="earliest", stop_when_idle=idle)
    events: list[AgentEvent] = []
    try:
        async for batch in source.batches():
            for incoming in batch:
                assert isinstance(incoming.item, AgentEvent)
                events.append(incoming.item)
                incoming.ack()
    finally:
        await source.close()
    return events


async def test_events_go_through_a_pipeline_and_back_to_kafka(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    inbound = await create_topic(kafka_config, topic_name + "_in", partitions=3)
    outbound = await create_topic(kafka_config, topic_name + "_out", partitions=3)
    sent = numbered(300)
    await produce(kafka_config, inbound, sent)

    source = KafkaSource(inbound, group_id=topic_name, config=kafka_config, start="earliest")
    sink = KafkaSink(outbound, "type = doubled", config=kafka_config)
    pipeline = Pipeline(
        "roundtrip", sources=[source], sinks=[sink], dead_letters=MemoryDeadLetters()
    )

    @pipeline.agent("doubler", subscription="type = tick")
    def doubler(event: AgentEvent) -> AgentEvent:
        return event.derive("doubled", {"n": event.payload["n"] * 2})

    run = asyncio.create_task(pipeline.run(forever=True))
    while sink.sent < len(sent) and not run.done():
        await asyncio.sleep(0.05)
    await pipeline.stop()
    await run

    received = await read_all(kafka_config, outbound)
    assert sorted(e.payload["n"] for e in received) == [2 * n for n in range(300)]
    assert {e.causation_id for e in received} == {e.event_id for e in sent}
    by_cause = {e.causation_id: e for e in received}
    assert all(by_cause[e.event_id].correlation_id == e.correlation_id for e in sent)
    assert sum(source.committed_offsets().values()) == len(sent)
