"""``POST /events`` into a Kafka topic: 202 only once the broker has the records."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reagents import Pipeline
from reagents.events import AgentEvent, decode_event, encode_event
from reagents.kafka import KafkaConfig
from reagents.server.handoff import KafkaIngest
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic
from tests.server.ingest_helpers import PUBLISHER, handled, recording, settings
from tests.server.live import LiveServer, live_server

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def on_topic(config: KafkaConfig, topic: str, at_least: int) -> list[Any]:
    """Every record of ``topic`` (from the start), reading until ``at_least`` came and a
    further poll brings nothing more."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(**config.consumer_options(), group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Any] = []
        async with asyncio.timeout(20):
            while True:
                polled = await consumer.getmany(timeout_ms=300)
                batch = [r for rs in polled.values() for r in rs]
                records += batch
                if len(records) >= at_least and not batch:
                    return records
    finally:
        await consumer.stop()


async def post(live: LiveServer, body: bytes) -> Any:
    answer = await live.client.post("/events", content=body, headers=live.authed(PUBLISHER))
    return answer


async def test_the_records_are_on_the_topic_when_202_arrives(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    events = [
        AgentEvent(event_type="order", payload={"n": n}, correlation_id=f"c{n % 2}")
        for n in range(5)
    ]
    body = b"[" + b",".join(encode_event(e) for e in events) + b"]"
    ingest = KafkaIngest(topic, config=kafka_config)
    async with live_server(Pipeline("front"), settings(), ingest=ingest) as live:
        answer = await post(live, body)
        assert answer.status_code == 202, answer.text
        records = await on_topic(kafka_config, topic, 5)
        assert sorted(decode_event(r.value).event_id for r in records) == sorted(
            e.event_id for e in events
        )
        for record in records:
            event = decode_event(record.value)
            assert record.key == event.conversation_id.encode()
            assert (b"event_type", b"order") in [(k.encode(), v) for k, v in record.headers]
        again = await post(live, encode_event(events[0]))
        assert again.json()["published"] == 0
        assert len(await on_topic(kafka_config, topic, 5)) == 5
    assert ingest.in_flight == 0


async def test_a_missing_topic_is_503_naming_it(kafka_config: KafkaConfig, topic_name: str) -> None:
    ingest = KafkaIngest(f"{topic_name}_absent", config=kafka_config)
    async with live_server(Pipeline("front"), settings(), ingest=ingest) as live:
        answer = await post(live, encode_event(AgentEvent(event_type="x")))
    assert answer.status_code == 503
    assert f"{topic_name}_absent" in answer.json()["detail"]
    assert "does not exist" in answer.json()["detail"]


async def test_the_pipeline_reads_what_was_posted_from_the_topic(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    pipeline, seen = recording()
    pipeline.add_source(KafkaSource(topic, group_id=None, config=kafka_config, start="earliest"))
    events = [AgentEvent(event_type="order", payload={"n": n}) for n in range(3)]
    ingest = KafkaIngest(topic, config=kafka_config)
    async with live_server(pipeline, settings(), ingest=ingest) as live:
        for event in events:
            assert (await post(live, encode_event(event))).status_code == 202
        got = await handled(pipeline, seen, 3)
        assert len(pipeline.inbox) == 0
    assert got == events
