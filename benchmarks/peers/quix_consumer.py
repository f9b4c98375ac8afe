"""The Kafka benchmark's Quix Streams consumer (a peer), run in its own virtualenv.

    .venv-peers/bin/python benchmarks/peers/quix_consumer.py --bootstrap HOST:PORT
        --topic T --count N --group G --workload {match25,all} [--session-ms MS]

`kafka_bench.py --peers` starts it against the broker and topic it produced; Quix
Streams and its dependencies (confluent-kafka, rocksdict) never enter the project's
own virtualenv: ``make bench-peers`` makes ``.venv-peers`` for them, and ``make test``
never runs this file.

An `Application` (group G, earliest, its JSON deserializer, which is orjson) and a
`StreamingDataFrame`: ``sdf.filter`` on the same predicate as the raw consumers
(`kafka_common.match_25_dict`; nothing for ``all``), then ``sdf.update`` with a
handler that counts. Offsets: Quix's own default, a checkpoint committed every
``commit_interval`` (5 s) and when the application stops (at-least-once); the
benchmark reads the committed offsets back after the run. The filter also counts
every record: after the N-th the application is asked to stop. Prints one JSON line:
records seen, handler calls, seconds and CPU seconds from the first record to the
N-th, and the peak RSS (KiB).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # benchmarks/: kafka_common, kafka_consumers

from kafka_common import match_25_dict, peak_rss_kib
from kafka_consumers import parser

# Not installed in the project's venv, where mypy runs: the module is then untyped.
from quixstreams import Application  # type: ignore[import-not-found, unused-ignore]


def consume(args: argparse.Namespace) -> dict[str, float]:
    """Run the application until ``args.count`` records went through the filter."""
    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        loglevel="WARNING",
        consumer_extra_config={
            "session.timeout.ms": args.session_ms,
            "heartbeat.interval.ms": max(100, args.session_ms // 6),
        },
    )
    topic = app.topic(args.topic, value_deserializer="json")
    sdf = app.dataframe(topic)
    wanted = match_25_dict if args.workload == "match25" else None
    seen = handled = 0
    started = cpu = seconds = 0.0

    def keep(value: Any) -> bool:
        nonlocal seen, started, cpu, seconds
        seen += 1
        if seen == 1:
            started, cpu = time.perf_counter(), time.process_time()
        if seen == args.count:
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            app.stop()
        return wanted is None or wanted(value)

    def handle(value: Any) -> None:
        nonlocal handled
        handled += 1

    sdf = sdf.filter(keep)
    sdf = sdf.update(handle)
    app.run()
    return {
        "seen": seen,
        "handled": handled,
        "seconds": seconds,
        "cpu": cpu,
        "rss_kib": peak_rss_kib(),
    }


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    print(json.dumps(consume(parser().parse_args())), flush=True)


if __name__ == "__main__":
    main()
