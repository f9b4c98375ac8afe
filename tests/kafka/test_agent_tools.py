"""Agents as tools across processes: a model in pipeline A consults an agent that runs in
pipeline B, over Kafka. A's addressed events go to a ``requests`` topic that B consumes;
B's answers come back to A through a ``responses`` topic, where `Pipeline.request`
matches them to the tool call's request."""

from __future__ import annotations

import asyncio

import pytest

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.kafka import KafkaConfig
from reagents.sinks.kafka import KafkaSink
from reagents.sources.kafka import KafkaSource
from tests.ai.tools import consulting, pricing_agent, seller
from tests.kafka.conftest import create_topic

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_a_model_consults_an_agent_in_another_pipeline_over_kafka(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    requests = await create_topic(kafka_config, f"{topic_name}_requests", partitions=2)
    responses = await create_topic(kafka_config, f"{topic_name}_responses", partitions=2)
    pricing = pricing_agent()
    offers = MemorySink("type = offer", name="offers")
    asking = Pipeline(
        "shop",
        sources=[KafkaSource(responses, group_id=None, config=kafka_config, start="earliest")],
        sinks=[KafkaSink(requests, "target", config=kafka_config), offers],
        dead_letters=MemoryDeadLetters(),
    )
    asking.add_agent(seller(consulting([]), [pricing]))  # `pricing` runs in `answering`
    answering = Pipeline(
        "pricer",
        sources=[KafkaSource(requests, group_id=f"{topic_name}_pricer", config=kafka_config)],
        agents=[pricing],
        sinks=[KafkaSink(responses, "source = 'pricing'", config=kafka_config)],
        dead_letters=MemoryDeadLetters(),
    )
    async with answering.serving(), asking.serving():
        asking.publish(AgentEvent(event_type="ask", payload={}))
        async with asyncio.timeout(60):
            while not offers.events:
                await asyncio.sleep(0.05)
    [offer] = offers.events
    assert offer.payload == {"sku": "tea", "total": 10.0}
    assert answering.stats()["pricing"].processed == 1
    assert "pricing" not in [agent.id for agent in asking.agents]
