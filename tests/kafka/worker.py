"""A pipeline process for the Kafka tests: consume a topic as a group, log event ids.

    python -m tests.kafka.worker BOOTSTRAP TOPIC GROUP OUT_FILE [--delay S] [--idle S]

Each handled event's id is appended (and flushed) to OUT_FILE before it is acked, so
the union of the files of every process is what the group processed. The process
ends after ``--idle`` seconds without records and prints its assignment to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("bootstrap", "topic", "group", "out"):
        parser.add_argument(name)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args(argv)
    config = KafkaConfig(
        bootstrap_servers=args.bootstrap, session_timeout_ms=10_000, heartbeat_interval_ms=1_000
    )
    source = KafkaSource(
        args.topic,
        group_id=args.group,
        config=config,
        stop_when_idle=args.idle,
        commit_interval=0.2,
        batch_size=100,
    )
    pipeline = Pipeline("worker", sources=[source], dead_letters=MemoryDeadLetters())
    with open(args.out, "a", buffering=1) as out:

        @pipeline.agent("recorder", max_concurrent=1)
        async def recorder(event: AgentEvent) -> None:
            if args.delay:
                await asyncio.sleep(args.delay)
            out.write(event.event_id + "\n")

        await pipeline.run()
    print(f"assigned={source.assignment} consumed={source.consumed}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
