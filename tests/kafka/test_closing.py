"""The Kafka clients and the embedded broker close as context managers, twice harmlessly."""

from __future__ import annotations

import pytest

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, encode_event
from reagents.kafka import EmbeddedBroker, KafkaConfig
from reagents.kafka.producer import ReliableProducer
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, numbered, produce

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_a_producer_flushes_and_disconnects_at_the_end_of_its_block(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    async with ReliableProducer(kafka_config) as producer:
        for event in numbered(3):
            await producer.send(topic, encode_event(event))
    assert (producer.sent, producer.pending) == (3, 0)
    assert producer._producer is None
    await producer.close()  # twice: harmless


async def test_a_kafka_sink_delivers_what_it_pipelined_before_it_closes(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    async with KafkaSink(topic, config=kafka_config, wait_for_delivery=False) as sink:
        for event in numbered(3):
            await sink.write(event)
    assert sink.sent == 3
    await sink.close()  # twice: harmless


async def test_a_kafka_dead_letter_sink_sends_what_it_queued_before_it_closes(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    letter = DeadLetter.from_error(
        FailureStage.AGENT, RuntimeError("no"), event=AgentEvent(event_type="x")
    )
    async with KafkaDeadLetterSink(topic, config=kafka_config) as sink:
        sink.write(letter)
    assert sink._producer.sent == 1
    assert sink._producer._producer is None
    await sink.aclose()  # twice: harmless


async def test_a_kafka_source_stops_its_consumer_at_the_end_of_its_block(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    await produce(kafka_config, topic, numbered(3))
    async with KafkaSource(topic, group_id=None, config=kafka_config, start="earliest") as source:
        batches = source.batches()
        batch = await anext(batches)
        assert batch
        for incoming in batch:
            incoming.ack()
        assert source._group.consumer is not None
    assert source._group.consumer is None
    await source.close()  # twice: harmless
    await batches.aclose()


def test_the_embedded_broker_stops_at_the_end_of_its_block() -> None:
    with EmbeddedBroker() as broker:
        assert broker.running
    assert not broker.running
    broker.close()  # twice: harmless
