"""Throughput and latency of reagents next to the raw ceiling measured in the same run.

    python benchmarks/run.py [--events N] [--repeat K]

Every figure is reported with its ratio to a hand-written equivalent timed in the same
process, so the numbers mean something on any machine. Times are CPU seconds of this
process (``time.process_time``), so other load on the machine skews them less; the best
of ``--repeat`` runs counts. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from workload import EXPRESSION, make_events, plain_predicate

from reagents.events import AgentEvent, decode_event, encode_event
from reagents.operators.expression import where
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.file import FileSource


def best_rate(count: int, run: Callable[[], object], repeat: int) -> float:
    """Events per second of the fastest of ``repeat`` runs (GC off while timing)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        gc.disable()
        started = time.process_time()
        run()
        times.append(time.process_time() - started)
        gc.enable()
    return count / min(times)


def bench_filters(events: list[AgentEvent], repeat: int) -> list[tuple[str, float, float]]:
    compiled = where(EXPRESSION).predicate
    ceiling = best_rate(len(events), lambda: [e for e in events if plain_predicate(e)], repeat)
    ours = best_rate(len(events), lambda: [e for e in events if compiled(e)], repeat)
    assert [compiled(e) for e in events] == [plain_predicate(e) for e in events]
    return [
        ("plain Python predicate (ceiling)", ceiling, 1.0),
        (f"where({EXPRESSION!r})", ours, ours / ceiling),
    ]


async def hand_written_loop(path: Path) -> tuple[int, list[float]]:
    """Read, decode, filter, await the handler, make the output event: no library."""
    outputs: list[AgentEvent] = []
    latencies: list[float] = []

    async def handler(event: AgentEvent) -> AgentEvent:
        return event.derive("trade_signal", {"symbol": event.payload["symbol"]})

    with path.open("rb") as file:
        for line in file:
            started = time.perf_counter()
            event = decode_event(line)
            if plain_predicate(event):
                outputs.append(await handler(event))
                latencies.append(time.perf_counter() - started)
    return len(outputs), latencies


async def reagents_pipeline(path: Path) -> tuple[int, list[float]]:
    """The same work as a Pipeline: FileSource → where(...) → async agent → bus."""
    pipeline = Pipeline("bench", dead_letters=MemoryDeadLetters())
    pipeline.add_source(FileSource(path, checkpoint_path=path.with_suffix(".ckpt")))

    async def handler(event: AgentEvent) -> AgentEvent:
        return event.derive("trade_signal", {"symbol": event.payload["symbol"]})

    pipeline.add_agent(Agent(handler, id="trader", subscription=EXPRESSION, max_concurrent=4))
    await pipeline.run()
    stats = pipeline.stats()["trader"]
    return stats.emitted, [stats.latency_p50_ms / 1000, stats.latency_p99_ms / 1000]


def bench_pipeline(count: int, repeat: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        events = make_events(count)
        path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
        expected = sum(1 for e in events if plain_predicate(e))
        del events  # a heap full of events would make every GC pass of both sides slower
        results: dict[str, tuple[float, float, float]] = {}
        for label, bench in [
            ("hand-written asyncio loop (ceiling)", hand_written_loop),
            ("reagents Pipeline", reagents_pipeline),
        ]:
            best = float("inf")
            p50 = p99 = 0.0
            for _ in range(repeat):
                path.with_suffix(".ckpt").unlink(missing_ok=True)
                gc.collect()
                started = time.process_time()
                emitted, latencies = asyncio.run(bench(path))
                elapsed = time.process_time() - started
                if elapsed < best:
                    best = elapsed
                    if len(latencies) > 2:
                        cuts = statistics.quantiles(latencies, n=100)
                        p50, p99 = cuts[49], cuts[98]
                    else:
                        p50, p99 = latencies[0], latencies[-1]
                assert emitted == expected, (label, emitted, expected)
            results[label] = (count / best, p50 * 1000, p99 * 1000)
        ceiling = results["hand-written asyncio loop (ceiling)"][0]
        return [
            (f"{label}  [p50 {p50:.3f} ms, p99 {p99:.3f} ms]", rate, rate / ceiling)
            for label, (rate, p50, p99) in results.items()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    console = Console()
    table = Table(title=f"reagents benchmarks ({args.events:,} events, best of {args.repeat})")
    table.add_column("what")
    table.add_column("events/s", justify="right")
    table.add_column("vs ceiling", justify="right")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("building events", total=3)
        events = make_events(args.events)
        progress.update(task, advance=1, description="filters")
        rows = bench_filters(events, args.repeat)
        del events
        progress.update(task, advance=1, description="pipeline: decode → filter → agent")
        rows += bench_pipeline(args.events, args.repeat)
        progress.update(task, advance=1)
    for label, rate, ratio in rows:
        table.add_row(label, f"{rate:,.0f}", f"{ratio:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
