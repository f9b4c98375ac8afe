"""Missing topics are never created by a send or a subscription: events for them are
dead letters that say which topic, for which agent, and how to create it."""

from __future__ import annotations

import asyncio

import pytest

from reagents.dead_letter import FailureStage
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.kafka import (
    KafkaConfig,
    MissingTopicError,
    ProducerSettings,
    ReliableProducer,
    TopicNaming,
    require_aiokafka,
    topics_for_agents,
)
from reagents.operators.filters import any_event
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic
from tests.kafka.test_roundtrip import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def topics_of(config: KafkaConfig) -> set[str]:
    """Every topic in the cluster (asking for all of them creates none)."""
    admin = require_aiokafka("admin").AIOKafkaAdminClient(**config.client_options())
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_an_event_for_an_agent_nobody_runs_is_a_dead_letter_not_a_new_topic(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    naming = TopicNaming(prefix=topic_name)
    worker_topic = await create_topic(kafka_config, naming.agent("worker"), partitions=1)
    ghost_topic = naming.agent("ghost")
    letters = MemoryDeadLetters()
    routes = topics_for_agents(naming, {"worker": any_event()})
    pipeline = Pipeline("sender", dead_letters=letters)
    pipeline.add_sink(KafkaSink(routes, "target", name="agents", config=kafka_config))
    for targets in [("worker",), ("ghost",), ("worker", "ghost")]:
        pipeline.publish(AgentEvent(event_type="job", target_agents=targets))
    await pipeline.run()

    assert ghost_topic not in await topics_of(kafka_config)
    delivered = await read_all(kafka_config, worker_topic, idle=1.0)
    assert [e.target_agents for e in delivered] == [("worker",)]  # nothing half-sent
    assert len(letters.letters) == 2
    for letter in letters.letters:
        assert letter.stage is FailureStage.SINK
        assert letter.error_type == "MissingTopicError"
        assert f"topic {ghost_topic!r} (of agent 'ghost') does not exist" in letter.message
        assert worker_topic not in letter.message
        assert f"ensure_topics(config, [{ghost_topic!r}])" in letter.message


async def test_a_producer_refuses_a_missing_topic_and_finds_it_once_created(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    async with ReliableProducer(kafka_config, ProducerSettings(topic_recheck=0)) as producer:
        with pytest.raises(MissingTopicError, match=f"'{topic_name}' does not exist"):
            await producer.send_and_wait(topic_name, b"lost?")
        with pytest.raises(MissingTopicError):
            await producer.send(topic_name, b"lost?")
        assert topic_name not in await topics_of(kafka_config)

        await create_topic(kafka_config, topic_name, partitions=1)
        await producer.send_and_wait(topic_name, b"stored")
    assert producer.sent == 1


async def test_a_group_consumer_refuses_a_missing_topic_instead_of_creating_it(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    source = KafkaSource(topic_name, group_id=topic_name, config=kafka_config)

    async def consume() -> None:
        async for _ in source.batches():
            pass

    try:
        with pytest.raises(ConfigurationError, match=f"'{topic_name}' do not exist; create it"):
            await asyncio.wait_for(consume(), 30)  # it used to wait on a topic it had created
    finally:
        await source.close()
    assert topic_name not in await topics_of(kafka_config)
