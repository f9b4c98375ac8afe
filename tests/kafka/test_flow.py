"""Backpressure, poison records and an unreachable broker, against the real broker."""

from __future__ import annotations

import asyncio
import resource
import time

import pytest

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig, KafkaUnavailableError
from reagents.kafka.broker import free_port
from reagents.operators.batch import batch
from reagents.pipelines.lifecycle import SourceFailedError
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, numbered, produce, produce_raw

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def test_a_slow_agent_pauses_partitions_and_memory_stays_bounded(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    padding = "x" * 2000
    events = [AgentEvent(event_type="tick", payload={"n": n, "pad": padding}) for n in range(6000)]
    await produce(kafka_config, topic, events)
    window = Watermarks(high=100, low=50)
    fetch = 256 * 1024
    config = kafka_config.model_copy(
        update={"max_partition_fetch_bytes": fetch, "fetch_max_bytes": 2 * fetch}
    )
    source = KafkaSource(
        topic,
        group_id=topic_name,
        config=config,
        window=window,
        batch_size=50,
        stop_when_idle=1.0,
    )
    pipeline = Pipeline("slow", sources=[source], dead_letters=MemoryDeadLetters())
    seen: set[str] = set()
    peak = 0

    @pipeline.agent("slow", max_concurrent=4)
    async def slow(event: AgentEvent) -> None:
        nonlocal peak
        peak = max(peak, source.in_flight)
        await asyncio.sleep(0.0005)
        seen.add(event.event_id)

    before = rss_mb()
    await pipeline.run()

    assert seen == {e.event_id for e in events}
    assert source.pauses > 0
    assert peak <= 2 * (window.high + 50)  # two partitions, each may overshoot by one poll
    grown = rss_mb() - before
    print(
        f"slow agent: peak RSS {rss_mb():.1f} MB, grown {grown:.1f} MB during the run; "
        f"peak in flight {peak}, {source.pauses} pauses"
    )
    assert grown < 40  # the 6000 events of 2 kB were never all held at once


async def test_poison_records_are_dead_lettered_and_the_stream_goes_on(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    dlq = await create_topic(kafka_config, topic_name + "_dlq", partitions=1)
    good = numbered(20)
    await produce(kafka_config, topic, good[:10])
    await produce_raw(kafka_config, topic, [b"not json {", b'{"event_type": ""}', b"[1, 2]"])
    await produce(kafka_config, topic, good[10:])

    dead_letters = KafkaDeadLetterSink(dlq, config=kafka_config)
    source = KafkaSource(
        topic,
        group_id=topic_name,
        config=kafka_config,
        stop_when_idle=1.0,
        flush_before_commit=[dead_letters],
    )
    pipeline = Pipeline("poison", sources=[source], dead_letters=dead_letters)
    handled: list[int] = []

    @pipeline.agent("counter")
    def counter(event: AgentEvent) -> None:
        handled.append(event.payload["n"])

    await pipeline.run()
    await dead_letters.aclose()

    assert handled == list(range(20))  # one partition: in order, nothing skipped
    assert source.committed_offsets() == {f"{topic}[0]": 23}  # the poison offsets too
    records = await raw_records(kafka_config, dlq)
    reasons = [dict(headers)["reagents-reason"].decode() for _, headers in records]
    assert len(records) == 3
    assert reasons[0].startswith("not valid JSON")
    assert "event_type" in reasons[1]
    assert reasons[2] == "not a JSON object"
    assert all(dict(h)["reagents-stage"] == b"decode" for _, h in records)
    assert all(dict(h)["reagents-origin"].startswith(topic.encode()) for _, h in records)


async def raw_records(
    config: KafkaConfig, topic: str
) -> list[tuple[bytes | None, list[tuple[str, bytes]]]]:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=config.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        out: list[tuple[bytes | None, list[tuple[str, bytes]]]] = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            polled = await consumer.getmany(timeout_ms=500)
            out.extend((r.value, list(r.headers)) for rs in polled.values() for r in rs)
            if out and not polled:
                break
        return out
    finally:
        await consumer.stop()


async def test_an_unreachable_broker_fails_clearly_after_bounded_retries() -> None:
    address = f"127.0.0.1:{free_port()}"
    config = KafkaConfig(bootstrap_servers=address, connect_attempts=3, connect_backoff=0.05)
    pipeline = Pipeline(
        "nowhere",
        sources=[KafkaSource("events", group_id="g", config=config)],
        dead_letters=MemoryDeadLetters(),
    )
    started = time.monotonic()
    with pytest.raises(SourceFailedError, match=f"cannot reach Kafka at {address} after 3") as info:
        await asyncio.wait_for(pipeline.run(), 20)
    assert isinstance(info.value.__cause__, KafkaUnavailableError)
    assert time.monotonic() - started < 10


async def test_a_flow_holding_sparse_events_reads_past_a_full_window(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    """One record in ten is a tick; a count batch of 20 ticks spans 200 records, past
    a window of 50: with every partition paused and only the flow holding records,
    the source reads on instead of waiting for acks that need more input."""
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    events = [
        AgentEvent(event_type="tick" if n % 10 == 0 else "noise", payload={"n": n})
        for n in range(600)
    ]
    await produce(kafka_config, topic, events)
    source = KafkaSource(
        topic,
        group_id=topic_name,
        config=kafka_config,
        window=Watermarks(high=50, low=25),
        batch_size=10,
        stop_when_idle=1.0,
    )
    pipeline = Pipeline("sparse", sources=[source], dead_letters=MemoryDeadLetters())
    sizes: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(20)])
    async def tally(ticks: list[AgentEvent]) -> None:
        sizes.append(len(ticks))

    await asyncio.wait_for(pipeline.run(), 30)
    assert sizes == [20, 20, 20]
    assert source.committed_offsets() == {f"{topic}[0]": 600}
