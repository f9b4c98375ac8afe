"""A pipeline process with a 10-second event-time window, for the crash tests.

    python -m tests.integration.window_worker file PATH OUT [--follow]
    python -m tests.integration.window_worker kafka BOOTSTRAP TOPIC OUT [--idle S]

The ``windows`` agent gets one list per 10 s window of event time and appends the
window's ``payload.n`` values as one JSON line to OUT (one ``write`` on an O_APPEND
descriptor: a kill never leaves half a line). Once at least one window was written and
``--ready-when N`` deliveries are held in the open window, ``OUT.ready`` is created
(with the Kafka source's committed offsets), so a test knows when to kill.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from reagents import (
    Agent,
    AgentEvent,
    EventTime,
    FileSource,
    KafkaConfig,
    KafkaSource,
    MemoryDeadLetters,
    Pipeline,
    Source,
    tumbling,
)


def source_of(args: argparse.Namespace) -> Source:
    if args.kind == "file":
        return FileSource(args.where, start="checkpoint", checkpoint_every=1, follow=args.follow)
    config = KafkaConfig(
        bootstrap_servers=args.where, session_timeout_ms=10_000, heartbeat_interval_ms=1_000
    )
    return KafkaSource(
        args.topic,
        group_id="windows",
        config=config,
        commit_interval=0.05,
        stop_when_idle=args.idle,
    )


async def watch(pipeline: Pipeline, source: Source, out: Path, held: int) -> None:
    """Create ``OUT.ready`` once a window was written and ``held`` deliveries wait."""
    while True:
        written = out.read_bytes().count(b"\n") if out.exists() else 0
        # Kafka: wait for the commit of the first window too
        committed = source.committed_offsets() if isinstance(source, KafkaSource) else None
        if written >= 1 and pipeline.in_flight == held and committed != {}:
            out.with_suffix(".ready").write_text(json.dumps(committed or {}))
            return
        await asyncio.sleep(0.01)


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["file", "kafka"])
    parser.add_argument("where")
    parser.add_argument("rest", nargs="+")
    parser.add_argument("--follow", action="store_true")
    parser.add_argument("--idle", type=float, default=None)
    parser.add_argument("--ready-when", type=int, default=None)
    args = parser.parse_args(argv)
    args.topic, out = (None, Path(args.rest[0])) if args.kind == "file" else args.rest[:2]
    out = Path(out)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write_window(ticks: list[AgentEvent]) -> None:
        os.write(fd, (json.dumps([t.payload["n"] for t in ticks]) + "\n").encode())

    source = source_of(args)
    pipeline = Pipeline("windows", sources=[source], dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        Agent(write_window, id="windows", flow=[tumbling(10.0)], flow_time=EventTime())
    )
    watcher = None
    if args.ready_when is not None:
        watcher = asyncio.create_task(watch(pipeline, source, out, args.ready_when))
    try:
        await pipeline.run()
    finally:
        os.close(fd)
        if watcher is not None:
            watcher.cancel()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
