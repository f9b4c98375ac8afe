"""`KafkaSource.lag`: records behind per partition (high watermark minus position), and
the same figure as ``reagents_source_lag_records`` on ``/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, numbered, produce
from tests.server.live import live_server

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def _lag_samples(text: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "reagents_source_lag_records"
        for sample in family.samples
    }


async def until(check: Callable[[], object], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)


async def test_lag_counts_the_records_a_paused_partition_has_not_polled(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    await produce(kafka_config, topic, numbered(60))
    source = KafkaSource(
        topic,
        group_id=topic_name,
        config=kafka_config,
        start="earliest",
        window=Watermarks(high=10, low=5),
        max_poll_records=10,
        batch_size=10,
    )
    assert await source.lag() == {}  # not connected: nothing known
    gate = asyncio.Event()
    handled: list[int] = []
    pipeline = Pipeline("lagging", sources=[source], dead_letters=MemoryDeadLetters())

    @pipeline.agent("slow", max_concurrent=1)
    async def slow(event: AgentEvent) -> None:
        await gate.wait()
        handled.append(event.payload["n"])

    async with live_server(pipeline) as live:
        await until(lambda: source.paused)  # 10 records polled, the partition paused
        lag = await source.lag()
        assert lag == {f"{topic}[0]": 60 - source.consumed}
        assert 0 < source.consumed < 60
        scraped = (await live.client.get("/metrics")).text
        labels = {"pipeline": "lagging", "source": source.name, "topic": topic, "partition": "0"}
        assert _lag_samples(scraped) == {tuple(sorted(labels.items())): 60 - source.consumed}
        gate.set()
        await until(lambda: len(handled) == 60)
        await until(lambda: source.consumed == 60)
        assert await source.lag() == {f"{topic}[0]": 0}
