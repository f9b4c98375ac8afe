"""Kafka consume throughput: reagents next to raw aiokafka + orjson (the ceiling).

    python benchmarks/kafka_bench.py [--events N] [--partitions P] [--rounds K]
        [--bootstrap HOST:PORT] [--peers --peers-python PATH]

One broker (the embedded Tansu, or ``--bootstrap``), one fresh topic of N events
(`workload.make_events`, default 200,000) over P partitions (default 4), produced once
by reagents' `ReliableProducer`. Two workloads read that same topic:

* 25% match: the subscription `kafka_common.MATCH_25` (3 events in every 12 match it,
  exactly 25% when N is a multiple of 12; the count is taken with `where(...)` and
  with the hand-written predicate, which must agree);
* all match: every record is handed to the handler.

Consumers, each in its own fresh process (`kafka_consumers.py`) and consumer group,
so that peak RSS and CPU time are per consumer:

* raw aiokafka + orjson, committing the consumed offsets after every batch (the
  ceiling: what a user would hand-write);
* the same loop with the standard library's ``json`` (for information);
* reagents with its defaults: `KafkaSource` → `Pipeline` → one agent with the
  subscription, whose handler counts and returns None;
* with ``--peers``: Quix Streams (`peers/quix_consumer.py`, run by
  ``--peers-python``, a virtualenv of its own: ``make bench-peers``).

Each is timed from the first record received to the last record handled (the group
join is not counted). Rounds interleave (ceiling, json, reagents[, quix] for one
workload, then the other; again ``--rounds`` times), and every rate is also given as
a ratio to the ceiling of the same round: min/median/max over the rounds, the CPU
µs per event (median; ``time.process_time`` of the consumer process over the timed
span, every thread) and the peak RSS (max; the process's own high-water mark, see
`kafka_common.peak_rss_kib`). After each run the group's committed
offsets are read back: a run that did not see N records, handle exactly the
expected ones, and commit offsets adding up to N is printed as an error (exit 1).
Nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from kafka_common import MATCH_25, match_25_dict
from kafka_report import LABELS, Run, failed, report
from rich.console import Console
from rich.progress import Progress
from workload import make_events

from reagents import EmbeddedBroker, KafkaConfig, encode_event, where
from reagents.kafka import ProducerSettings, ReliableProducer, TopicSpec, ensure_topics

HERE = Path(__file__).resolve().parent
WORKLOADS = ["match25", "all"]


def make_values(count: int) -> tuple[list[bytes], int]:
    """The encoded events and how many match `MATCH_25` (both predicates must agree)."""
    events = make_events(count)
    ours = where(MATCH_25).predicate
    values = [encode_event(event) for event in events]
    expected = sum(1 for event in events if ours(event))
    by_hand = sum(1 for value in values if match_25_dict(orjson.loads(value)))
    if by_hand != expected:
        raise SystemExit(f"the predicates disagree: where() {expected:,}, by hand {by_hand:,}")
    return values, expected


async def produce(config: KafkaConfig, topic: str, values: list[bytes]) -> float:
    """Write ``values`` (no key: the partitioner spreads them); returns events/s."""
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


async def committed(bootstrap: str, topic: str, group: str, partitions: int) -> int:
    """The sum of ``group``'s committed offsets over the topic's partitions (named
    explicitly: Tansu lists a group's offsets only for partitions it is asked about)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        offsets = [await consumer.committed(TopicPartition(topic, n)) for n in range(partitions)]
    finally:
        await consumer.stop()
    return sum(offset or 0 for offset in offsets)


def command(kind: str, args: argparse.Namespace, topic: str, workload: str) -> list[str]:
    """The command line of one consumer process."""
    common = ["--topic", topic, "--count", str(args.events), "--workload", workload]
    common += ["--group", f"bench-{kind}-{uuid.uuid4().hex[:8]}"]
    common += ["--bootstrap", args.bootstrap, "--session-ms", str(args.session_ms)]
    if kind == "quix":
        return [args.peers_python, str(HERE / "peers" / "quix_consumer.py"), *common]
    return [sys.executable, str(HERE / "kafka_consumers.py"), kind, *common]


def run_one(kind: str, args: argparse.Namespace, topic: str, workload: str, round_: int) -> Run:
    """Run one consumer process to the end, then read its group's committed offsets."""
    argv = command(kind, args, topic, workload)
    group = argv[argv.index("--group") + 1]
    timeout = 60 + args.events / 1_000
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return failed(kind, workload, round_, f"no result within {timeout:.0f} s")
    lines = done.stdout.strip().splitlines() or [""]
    try:
        figures = json.loads(lines[-1])
    except ValueError:
        figures = None
    if done.returncode != 0 or not isinstance(figures, dict):
        last = (done.stderr.strip().splitlines() or ["no JSON line"])[-1]
        return failed(kind, workload, round_, f"exit {done.returncode}: {last[:200]}")
    run = Run(kind, workload, round_, **figures)
    try:
        run.committed = asyncio.run(committed(args.bootstrap, topic, group, args.partitions))
    except Exception as error:  # reported as a problem of this run, not a crash
        run.problems.append(f"committed offsets unreadable: {error!r}")
    return run


def measure(args: argparse.Namespace, kinds: list[str], console: Console) -> list[Run]:
    """Produce the topic, then every round: each workload, each consumer in turn."""
    values, matching = make_values(args.events)
    expected = {"match25": matching, "all": args.events}
    config = KafkaConfig(bootstrap_servers=args.bootstrap)
    topic = f"bench_{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(config, [TopicSpec(name=topic, partitions=args.partitions)]))
    rate = asyncio.run(produce(config, topic, values))
    del values
    console.print(
        f"{args.events:,} events in {args.partitions} partitions, produced at {rate:,.0f}/s\n"
        f"25% match: {MATCH_25}\n  {matching:,} events ({matching / args.events:.1%}), "
        "where() and the hand-written predicate agree"
    )
    runs: list[Run] = []
    with Progress(console=console, transient=True) as progress:
        total = args.rounds * len(WORKLOADS) * len(kinds)
        task = progress.add_task("rounds", total=total)
        for round_ in range(1, args.rounds + 1):
            for workload in WORKLOADS:
                for kind in kinds:
                    what = f"round {round_}/{args.rounds} {workload}: {LABELS[kind]}"
                    progress.update(task, description=what)
                    run = run_one(kind, args, topic, workload, round_)
                    if run.seconds:  # else it failed and says why
                        run.check(args.events, expected[workload])
                    runs.append(run)
                    progress.advance(task)
    return runs


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bootstrap", default=None, help="use this broker instead of Tansu")
    parser.add_argument(
        "--session-ms",
        type=int,
        default=6_000,
        help="consumers' session timeout (Tansu holds a group's first join for half of it)",
    )
    parser.add_argument("--peers", action="store_true", help="also time Quix Streams")
    parser.add_argument("--peers-python", default=".venv-peers/bin/python")
    args = parser.parse_args(argv)
    if args.events < 1 or args.partitions < 1 or args.rounds < 1:
        parser.error("--events, --partitions and --rounds must be at least 1")
    if args.peers and not Path(args.peers_python).is_file():
        parser.error(f"--peers: no {args.peers_python} (make bench-peers makes it)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    kinds = ["orjson", "json", "reagents"] + (["quix"] if args.peers else [])
    console = Console(width=80)
    if args.bootstrap:
        runs = measure(args, kinds, console)
    else:
        with EmbeddedBroker() as broker:
            args.bootstrap = broker.bootstrap
            runs = measure(args, kinds, console)
    return 0 if report(console, runs, WORKLOADS, kinds, args.events) else 1


if __name__ == "__main__":
    sys.exit(main())
