"""The transport contract on Kafka: `KafkaSource` (committed offsets) and `KafkaSink`.

Each test gets its own one-partition input and output topics (so order is total) and
consumer group. The group's session is short, so a restarted source rejoins in about
a second on the embedded broker.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.kafka.config import require_aiokafka
from reagents.policies import Watermarks
from reagents.sinks.base import Sink
from reagents.sinks.kafka import KafkaSink
from reagents.sources.base import Source
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, produce_raw
from tests.transports.contract import Transport, TransportContract, rest

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

QUICK_GROUP = {"session_timeout_ms": 1000, "heartbeat_interval_ms": 200}
IDLE = 0.5  # a source ends after this long without records


class KafkaTransport(Transport):
    """Input ``topic`` read by group ``topic``; output ``topic_out``."""

    def __init__(self, config: KafkaConfig, topic: str) -> None:
        self.config = config.model_copy(update=QUICK_GROUP)
        self.topic = topic
        self.group = topic
        self.output = topic + "_out"

    async def create(self) -> None:
        await create_topic(self.config, self.topic, partitions=1)
        await create_topic(self.config, self.output, partitions=1)

    async def write_records(self, records: Sequence[bytes]) -> None:
        await produce_raw(self.config, self.topic, list(records))

    def source(self, *, batch_size: int = 64, window: Watermarks | None = None) -> Source:
        return KafkaSource(
            self.topic,
            group_id=self.group,
            config=self.config,
            batch_size=batch_size,
            window=window,
            poll_timeout=0.05,
            stop_when_idle=IDLE,
        )

    async def checkpoint(self) -> int:
        """The group's committed offset, as the broker has it."""
        aiokafka = require_aiokafka()
        consumer = aiokafka.AIOKafkaConsumer(**self.config.consumer_options(), group_id=self.group)
        await consumer.start()
        try:
            offset = await consumer.committed(aiokafka.TopicPartition(self.topic, 0))
        finally:
            await consumer.stop()
        return int(offset) if offset is not None else 0

    def pauses(self, source: Source) -> int | None:
        assert isinstance(source, KafkaSource)
        return source.pauses

    def origin(self, position: int) -> str:
        return f"{self.topic}[0]@{position}"

    def sink(self, subscription: str) -> Sink:
        return KafkaSink(self.output, subscription, config=self.config, wait_for_delivery=False)

    async def written(self) -> list[AgentEvent]:
        reader = KafkaSource(
            self.output, group_id=None, config=self.config, start="earliest", stop_when_idle=IDLE
        )
        try:
            records = await rest(reader)
        finally:
            await reader.close()
        for record in records:
            record.ack()
        events = [record.item for record in records]
        assert all(isinstance(event, AgentEvent) for event in events)
        return [event for event in events if isinstance(event, AgentEvent)]


class TestKafka(TransportContract):
    @pytest.fixture
    async def transport(self, kafka_config: KafkaConfig, topic_name: str) -> Transport:
        transport = KafkaTransport(kafka_config, topic_name)
        await transport.create()
        return transport
