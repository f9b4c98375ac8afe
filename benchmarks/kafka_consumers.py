"""The Kafka benchmark's consumers, one per process (`kafka_bench.py` starts them).

    python benchmarks/kafka_consumers.py KIND --bootstrap HOST:PORT --topic T
        --count N --group G --workload {match25,all} [--session-ms MS]

KIND is ``orjson`` (the ceiling), ``json`` or ``reagents``. Each consumes the topic from
the earliest offset as the fresh group G until N records are consumed, then prints one
JSON line: records seen, handler calls, seconds and CPU seconds (``time.process_time``)
from the first record received to the last one handled, and the peak RSS of this
process (KiB, `kafka_common.peak_rss_kib`). A fresh process per run keeps one consumer's
heap out of another's figures.

The raw loops are what a user would hand-write: ``getmany(max_records=1000)``, decode
each value, the subscription's predicate on the dict (`kafka_common.match_25_dict`, or
nothing for ``all``), a handler that counts, and ``commit(offsets)`` after every batch
(the last records' offsets + 1, so at-least-once as reagents). reagents runs with its
defaults: `KafkaSource` → `Pipeline` → one `Agent` with the subscription. Only the
standard library is imported up front: a raw consumer's RSS includes aiokafka and its
JSON library, never pydantic.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from kafka_common import MATCH_25, match_25_dict, peak_rss_kib

KINDS = ("orjson", "json", "reagents")
WORKLOADS = ("match25", "all")
_POLL_S = 0.005  # how often the reagents run looks whether it is done (±5 ms of ~seconds)


def _everything(value: Any) -> bool:
    return True


async def raw(args: argparse.Namespace, loads: Callable[[Any], Any]) -> dict[str, float]:
    """aiokafka by hand: poll 1000, decode, filter, count, commit every batch."""
    from aiokafka import AIOKafkaConsumer

    wanted = match_25_dict if args.workload == "match25" else _everything
    handled = 0

    def handle(value: Any) -> None:
        nonlocal handled
        handled += 1

    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=max(100, args.session_ms // 6),
        max_poll_records=1000,
    )
    await consumer.start()
    seen = 0
    started = cpu = 0.0
    try:
        while seen < args.count:
            polled = await consumer.getmany(timeout_ms=200, max_records=1000)
            if not polled:
                continue
            if not started:
                started, cpu = time.perf_counter(), time.process_time()
            offsets = {}
            for tp, records in polled.items():
                for record in records:
                    value = loads(record.value)
                    if wanted(value):
                        handle(value)
                seen += len(records)
                offsets[tp] = records[-1].offset + 1
            await consumer.commit(offsets)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        await consumer.commit()  # what was consumed (committed already: a no-op in effect)
    finally:
        await consumer.stop()
    return {"seen": seen, "handled": handled, "seconds": seconds, "cpu": cpu}


async def with_reagents(args: argparse.Namespace) -> dict[str, float]:
    """A `KafkaSource` pipeline with one agent whose handler counts and returns None."""
    from reagents import Agent, AgentEvent, KafkaConfig, MemoryDeadLetters, Pipeline
    from reagents.sources.kafka import KafkaSource

    config = KafkaConfig(
        bootstrap_servers=args.bootstrap,
        session_timeout_ms=args.session_ms,
        heartbeat_interval_ms=max(100, args.session_ms // 6),
    )
    source = KafkaSource(args.topic, group_id=args.group, config=config, start="earliest")
    letters = MemoryDeadLetters()
    pipeline = Pipeline("bench", sources=[source], dead_letters=letters)
    handled = 0

    def handle(event: AgentEvent) -> None:
        nonlocal handled
        handled += 1

    subscription = MATCH_25 if args.workload == "match25" else None
    pipeline.add_agent(Agent(handle, id="bench", subscription=subscription))
    run = asyncio.create_task(pipeline.run(forever=True))
    while source.consumed == 0 and not run.done():
        await asyncio.sleep(0.001)
    started, cpu = time.perf_counter(), time.process_time()
    # Done: N records polled, none of them waiting for an ack, nothing at the agent.
    while not run.done() and (
        source.consumed < args.count or source.in_flight or pipeline.in_flight
    ):
        await asyncio.sleep(_POLL_S)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    await pipeline.stop()  # commits what was acked: every record
    await run  # raises what stopped the pipeline early
    return {
        "seen": source.consumed,
        "handled": handled,
        "seconds": seconds,
        "cpu": cpu,
        "dead_letters": len(letters.letters),
    }


def consume(args: argparse.Namespace) -> dict[str, float]:
    """Run the consumer ``args.kind``; its figures plus the peak RSS in KiB."""
    if args.kind == "reagents":
        result = asyncio.run(with_reagents(args))
    elif args.kind == "orjson":
        import orjson

        result = asyncio.run(raw(args, orjson.loads))
    else:
        result = asyncio.run(raw(args, json.loads))
    result["rss_kib"] = peak_rss_kib()
    return result


def parser() -> argparse.ArgumentParser:
    """The command line shared with the Quix Streams consumer (without ``kind``)."""
    parse = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parse.add_argument("--bootstrap", required=True)
    parse.add_argument("--topic", required=True)
    parse.add_argument("--count", type=int, required=True)
    parse.add_argument("--group", required=True)
    parse.add_argument("--workload", choices=WORKLOADS, default="match25")
    parse.add_argument("--session-ms", type=int, default=6_000)
    return parse


def main() -> None:
    parse = parser()
    parse.add_argument("kind", choices=KINDS)
    print(json.dumps(consume(parse.parse_args())), flush=True)


if __name__ == "__main__":
    main()
