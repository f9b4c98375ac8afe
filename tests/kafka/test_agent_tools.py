"""Agents as tools across processes: a model in this process consults an agent that
runs in another process (``tests.kafka.tools_worker``), over Kafka. Addressed events go
to a ``requests`` topic that the other process consumes; its answers come back through
a ``responses`` topic, where `Pipeline.request` matches them to the tool call."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.kafka import KafkaConfig
from reagents.sinks.kafka import KafkaSink
from reagents.sources.kafka import KafkaSource
from tests.ai.tools import consulting, pricing_agent, seller
from tests.kafka.conftest import create_topic

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]


async def test_a_model_consults_an_agent_in_another_process_over_kafka(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    requests = await create_topic(kafka_config, f"{topic_name}_requests", partitions=2)
    responses = await create_topic(kafka_config, f"{topic_name}_responses", partitions=2)
    state = tmp_path / "pricer.json"
    command = [sys.executable, "-m", "tests.kafka.tools_worker", kafka_config.bootstrap_servers]
    command += [requests, responses, f"{topic_name}_pricer", str(state)]
    log = tmp_path / "pricer.log"
    with open(log, "ab") as stderr:
        pricer = subprocess.Popen(command, cwd=ROOT, stderr=stderr)
    try:
        offers = MemorySink("type = offer", name="offers")
        asking = Pipeline(
            "shop",
            sources=[KafkaSource(responses, group_id=None, config=kafka_config, start="earliest")],
            sinks=[KafkaSink(requests, "target", config=kafka_config), offers],
            dead_letters=MemoryDeadLetters(),
        )
        # The tool's schema and description come from this description of the agent;
        # the agent itself runs in the other process.
        asking.add_agent(seller(consulting([]), [pricing_agent()]))
        async with asking.serving():
            asking.publish(AgentEvent(event_type="ask", payload={}))
            async with asyncio.timeout(60):
                while not offers.events:
                    assert pricer.poll() is None, log.read_text()
                    await asyncio.sleep(0.05)
        [offer] = offers.events
        assert offer.payload == {"sku": "tea", "total": 10.0}
        assert "pricing" not in [agent.id for agent in asking.agents]
    finally:
        pricer.send_signal(signal.SIGTERM)
        pricer.wait(timeout=30)
    assert pricer.returncode == 0, log.read_text()
    answered = json.loads(state.read_text())
    assert answered["processed"] == 1
    assert answered["pid"] != os.getpid()
