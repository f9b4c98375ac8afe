"""Kafka consume throughput: raw aiokafka (the ceiling) next to a reagents pipeline.

    python benchmarks/kafka_bench.py [--events N] [--partitions P] [--bootstrap HOST:PORT]

Produces N events to a fresh topic on the embedded broker (or ``--bootstrap``), then
times, on the same topic and in the same process: (1) a hand-written aiokafka loop
that consumes, decodes with `decode_event`, filters and commits; (2) a `Pipeline`
with a `KafkaSource` → a ``where(...)`` filter agent, committing acked offsets.
Both are timed from the first record received to the last record handled (the
group join is not counted). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from workload import EXPRESSION, make_events, plain_predicate

from reagents.events import AgentEvent, decode_event, encode_event
from reagents.kafka import EmbeddedBroker, KafkaConfig, TopicSpec, ensure_topics
from reagents.kafka.producer import ProducerSettings, ReliableProducer
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource


def make_values(count: int) -> list[bytes]:
    """The shared workload's events, encoded."""
    return [encode_event(event) for event in make_events(count)]


async def produce(config: KafkaConfig, topic: str, values: list[bytes]) -> float:
    """Write ``values`` round-robin over partitions; returns events/s."""
    settings = ProducerSettings(linger_ms=20, max_batch_size=512 * 1024, max_pending=50_000)
    producer = ReliableProducer(config, settings)
    started = time.perf_counter()
    try:
        for value in values:
            await producer.send(topic, value)
        await producer.flush()
    finally:
        await producer.stop()
    return len(values) / (time.perf_counter() - started)


async def raw_ceiling(config: KafkaConfig, topic: str, count: int) -> tuple[float, int]:
    """Hand-written aiokafka: getmany → decode_event → filter → commit every second."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic,
        **config.consumer_options(),
        group_id=f"raw-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        max_poll_records=1000,
    )
    await consumer.start()
    seen = matched = 0
    started = 0.0
    next_commit = 0.0
    try:
        while seen < count:
            polled = await consumer.getmany(timeout_ms=200, max_records=1000)
            if polled and not started:
                started = time.perf_counter()
                next_commit = started + 1.0
            offsets = {}
            for tp, records in polled.items():
                for record in records:
                    if record.value is not None and plain_predicate(decode_event(record.value)):
                        matched += 1
                seen += len(records)
                offsets[tp] = records[-1].offset + 1
            if offsets and time.perf_counter() >= next_commit:
                await consumer.commit(offsets)
                next_commit = time.perf_counter() + 1.0
        await consumer.commit()
        return count / (time.perf_counter() - started), matched
    finally:
        await consumer.stop()


async def reagents_pipeline(config: KafkaConfig, topic: str, count: int) -> tuple[float, int]:
    """KafkaSource → where(EXPRESSION) agent; offsets committed from acks."""
    source = KafkaSource(
        topic, group_id=f"reagents-{uuid.uuid4().hex[:6]}", config=config, start="earliest"
    )
    pipeline = Pipeline("bench", sources=[source], dead_letters=MemoryDeadLetters())
    matched = 0

    @pipeline.agent("filtered", subscription=EXPRESSION)
    def filtered(event: AgentEvent) -> None:
        nonlocal matched
        matched += 1

    run = asyncio.create_task(pipeline.run(forever=True))
    while source.consumed == 0 and not run.done():
        await asyncio.sleep(0.001)
    started = time.perf_counter()
    while (source.consumed < count or source.in_flight) and not run.done():
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    await pipeline.stop()
    await run  # raises what stopped the pipeline early
    return count / elapsed, matched


async def bench(bootstrap: str, events: int, partitions: int) -> None:
    config = KafkaConfig(
        bootstrap_servers=bootstrap, session_timeout_ms=10_000, heartbeat_interval_ms=1_000
    )
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    await ensure_topics(config, [TopicSpec(name=topic, partitions=partitions)])
    produced = await produce(config, topic, make_values(events))
    print(f"produced {events:,} events to {partitions} partitions at {produced:,.0f}/s")
    raw, raw_matched = await raw_ceiling(config, topic, events)
    print(
        f"raw aiokafka consume+decode+filter+commit: {raw:,.0f} events/s ({raw_matched:,} matched)"
    )
    ours, our_matched = await reagents_pipeline(config, topic, events)
    print(
        f"reagents KafkaSource → where() agent:      {ours:,.0f} events/s ({our_matched:,} matched)"
    )
    print(f"ratio reagents / raw: {ours / raw:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--bootstrap", default=None, help="use this broker instead of Tansu")
    args = parser.parse_args()
    if args.bootstrap:
        asyncio.run(bench(args.bootstrap, args.events, args.partitions))
        return
    with EmbeddedBroker() as broker:
        asyncio.run(bench(broker.bootstrap, args.events, args.partitions))


if __name__ == "__main__":
    main()
