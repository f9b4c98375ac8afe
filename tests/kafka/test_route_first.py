"""The Kafka source against the real broker: records nobody wants are acked unread, and
the pipeline's watermarks slow it down by not polling (no partition paused)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources import kafka_partitions
from reagents.sources.kafka import KafkaSource
from reagents.sources.kafka_records import Decoder, decode_value
from tests.kafka.conftest import create_topic, numbered, produce, produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_records_nobody_wants_are_committed_without_being_decoded(
    kafka_config: KafkaConfig, topic_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes | None] = []

    def counted(
        value: bytes | None, place: str, offset: int, decode: Decoder
    ) -> AgentEvent | DeadLetter:
        decoded.append(value)
        return decode_value(value, place, offset, decode)

    monkeypatch.setattr(kafka_partitions, "decode_value", counted)
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    orders, news = numbered(10, "order"), numbered(30, "news")
    addressed = AgentEvent(event_type="news", payload={"n": 99}, target_agents=("orders",))
    await produce(kafka_config, topic, orders[:5] + news[:15])
    await produce_raw(kafka_config, topic, [b"not json {", b'{"event_type": " "}'])
    await produce(kafka_config, topic, [*news[15:], addressed, *orders[5:]])
    dead = MemoryDeadLetters()
    source = KafkaSource(topic, group_id=topic_name, config=kafka_config, stop_when_idle=1.0)
    pipeline = Pipeline("skip", sources=[source], dead_letters=dead)
    handled: list[tuple[str, int]] = []

    @pipeline.agent("orders", subscription="type = order")
    def take(event: AgentEvent) -> None:
        handled.append((event.event_type, event.payload["n"]))

    await pipeline.run()

    assert handled == [("order", n) for n in range(5)] + [("news", 99)] + [
        ("order", n) for n in range(5, 10)
    ]
    assert [(d.stage, d.origin) for d in dead.letters] == [
        (FailureStage.DECODE, f"{topic}[0]@20"),
        (FailureStage.DECODE, f"{topic}[0]@21"),
    ]
    assert len(decoded) == 10 + 1 + 2  # the orders, the addressed news, the malformed
    assert source.committed_offsets() == {f"{topic}[0]": 43}
    assert pipeline.counters.ingested == 43


async def test_a_slow_agent_holds_the_source_back_without_pausing_a_partition(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    """The pipeline's watermarks are the limit: the source reads at most one poll ahead
    of what the pipeline took and stops polling, so aiokafka never drops a fetch."""
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    events = numbered(3000)
    await produce(kafka_config, topic, events)
    source = KafkaSource(
        topic, group_id=topic_name, config=kafka_config, max_poll_records=200, stop_when_idle=1.0
    )
    pipeline = Pipeline(
        "slow",
        sources=[source],
        dead_letters=MemoryDeadLetters(),
        watermarks=Watermarks(high=50, low=25),
    )
    seen: set[int] = set()
    ahead = 0

    @pipeline.agent("slow")
    async def slow(event: AgentEvent) -> None:
        nonlocal ahead
        ahead = max(ahead, source.consumed - len(seen))
        await asyncio.sleep(0.0002)
        seen.add(event.payload["n"])

    await pipeline.run()

    assert seen == set(range(3000))
    assert source.pauses == 0
    assert source.paused == []
    assert ahead <= 50 + 2 * 200 + 64  # in the pipeline, two polls, one batch
    assert sum(source.committed_offsets().values()) == 3000


async def test_a_stalled_pipeline_keeps_its_consumer_in_the_group(
    kafka_bootstrap: str, topic_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing is polled while the pipeline takes nothing; a poll with every partition
    paused, a third of ``max_poll_interval_ms`` after the last, keeps the membership."""
    config = KafkaConfig(
        bootstrap_servers=kafka_bootstrap,
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
        max_poll_interval_ms=3_000,
    )
    topic = await create_topic(config, topic_name, partitions=1)
    await produce(config, topic, numbered(500))
    source = KafkaSource(
        topic, group_id=topic_name, config=config, max_poll_records=100, stop_when_idle=1.0
    )
    pipeline = Pipeline(
        "stalled",
        sources=[source],
        dead_letters=MemoryDeadLetters(),
        watermarks=Watermarks(high=10, low=5),
    )
    seen: list[int] = []

    @pipeline.agent("stuck")
    async def stuck(event: AgentEvent) -> None:
        if not seen:
            await asyncio.sleep(5)  # longer than max_poll_interval_ms
        seen.append(event.payload["n"])

    with caplog.at_level(logging.INFO, logger="reagents.sources.kafka"):
        await pipeline.run()
        revoked_while_running = [r for r in caplog.records if "revoked" in r.getMessage()]

    assert seen == list(range(500))  # once each, in order: no rebalance redelivered any
    assert revoked_while_running == []
    assert source.committed_offsets() == {f"{topic}[0]": 500}
