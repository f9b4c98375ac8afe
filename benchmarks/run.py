"""Throughput and latency of reagents next to the raw ceiling measured in the same run.

    python benchmarks/run.py [--events N] [--rounds K]

Every figure is a ratio to a hand-written equivalent timed in the same process, in
interleaved rounds (ceiling, then each variant, then the ceiling again...), so the
numbers mean something on a noisy machine: each row shows the minimum, median and
maximum over the rounds (at least 3) of events/s and of the ratio to that round's
ceiling. Throughput is CPU time of this process (``time.process_time``). Nothing here
is asserted.

Pipelines (JSONL file → decode → 3-condition filter → async agent → output event):

* no flow: the agent handles each matching event;
* ``where → map``: the same, through a flow with one element-wise step;
* ``where → batch(1 s)``: the agent gets lists (handler calls counted);
* ``by_key + batch``: one batch per symbol.

The batching variants run with watermarks of 4,000/2,000: their windows hold up to
1,500 events, above the default 1,000 (where the pipeline would warn and read on).

Latency, p50 and p99 of each round (min/median/max over the rounds), over one span
on both sides: from the record decoded and handed on (the loop: after
``decode_event``; reagents: its batch handed over by the `FileSource`) to the end of
the handler call that handled it (see `latency_probe`). Wall time, in ms.

And the flow stage alone: the CPU time to hand N deliveries to an agent's runner, with
no flow and through ``each(map)`` (the cost a flow adds before the handler, without
the noise of a whole pipeline).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flow_stage import bench_flow_stage
from latency_probe import Probe, StampedFileSource
from reactivex import operators as ops
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text
from workload import EXPRESSION, make_events, plain_predicate

from reagents import (
    Agent,
    AgentEvent,
    MemoryDeadLetters,
    Pipeline,
    Watermarks,
    batch,
    by_key,
    decode_event,
    each,
    encode_event,
    where,
)

# (path, probe) -> (events the agent received, handler calls)
Bench = Callable[[Path, Probe], Coroutine[Any, Any, tuple[int, int]]]


@dataclass
class Row:
    """One variant's rates over the rounds and its ratios to each round's ceiling."""

    label: str
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    calls: int = 0
    cpu_us: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)


def spread(values: list[float], fmt: str) -> str:
    """``min/median/max`` of ``values``."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}}/{mid:{fmt}}/{high:{fmt}}"


def millis(values: list[float]) -> str:
    """``min/median/max`` in ms: 3 decimals below 10 ms, whole ms above."""
    return spread(values, ".3f" if max(values) < 10 else ".0f")


def cpu_seconds(run: Callable[[], object]) -> float:
    gc.collect()
    started = time.process_time()
    run()
    return time.process_time() - started


def bench_filters(events: list[AgentEvent], rounds: int) -> list[Row]:
    compiled = where(EXPRESSION).predicate
    assert [compiled(e) for e in events] == [plain_predicate(e) for e in events]
    ceiling, ours = Row("predicate (ceiling)"), Row("where(...) filter")
    for _ in range(rounds):
        base = len(events) / cpu_seconds(lambda: [e for e in events if plain_predicate(e)])
        rate = len(events) / cpu_seconds(lambda: [e for e in events if compiled(e)])
        ceiling.rates.append(base)
        ceiling.ratios.append(1.0)
        ours.rates.append(rate)
        ours.ratios.append(rate / base)
    return [ceiling, ours]


def symbol(event: AgentEvent) -> Any:
    return event.payload["symbol"]


def same(event: AgentEvent) -> AgentEvent:
    return event


async def hand_written_loop(path: Path, probe: Probe) -> tuple[int, int]:
    """Read, decode, filter, await the handler, make the output event: no library."""
    calls = 0
    stamps, clock, signal = probe.stamps, time.perf_counter_ns, probe.signal
    with path.open("rb") as file:
        for line in file:
            event = decode_event(line)
            stamps[event.event_id] = clock()
            if plain_predicate(event):
                await signal(event)
                calls += 1
    return calls, calls


async def run_pipeline(
    path: Path, probe: Probe, agent: Agent[Any], marks: Watermarks | None = None
) -> tuple[int, int]:
    pipeline = Pipeline("bench", dead_letters=MemoryDeadLetters(), watermarks=marks)
    pipeline.add_source(StampedFileSource(probe, path, path.with_suffix(".ckpt")))
    pipeline.add_agent(agent)
    await pipeline.run()
    stats = pipeline.stats()[agent.id]
    return stats.received, stats.processed


def variants() -> dict[str, Bench]:
    roomy = Watermarks(high=4_000, low=2_000)  # above what the batching windows hold

    def make(agent: Callable[[Probe], Agent[Any]], marks: Watermarks | None = None) -> Bench:
        return lambda path, probe: run_pipeline(path, probe, agent(probe), marks)

    return {
        "no flow": make(
            lambda p: Agent(p.signal, id="a", subscription=EXPRESSION, max_concurrent=4)
        ),
        "where→map": make(
            lambda p: Agent(
                p.signal,
                id="a",
                subscription=EXPRESSION,
                max_concurrent=4,
                flow=[each(ops.map(same))],
            )
        ),
        "where→batch(1s)": make(
            lambda p: Agent(
                p.digest, id="a", subscription=EXPRESSION, flow=[batch(1_000, within=1.0)]
            ),
            roomy,
        ),
        "by_key+batch": make(
            lambda p: Agent(
                p.digest,
                id="a",
                subscription=EXPRESSION,
                flow=[by_key(symbol, batch(500, within=1.0), max_keys=10)],
            ),
            roomy,
        ),
    }


def bench_pipelines(count: int, rounds: int, progress: Progress) -> list[Row]:
    benches: dict[str, Bench] = {"hand loop (ceiling)": hand_written_loop, **variants()}
    rows = {label: Row(label) for label in benches}
    task = progress.add_task("pipelines", total=rounds * len(benches))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "events.jsonl"
        events = make_events(count)
        path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
        expected = sum(1 for e in events if plain_predicate(e))
        del events  # a heap full of events would make every GC pass of both sides slower
        for _ in range(rounds):
            base = 0.0
            for label, bench in benches.items():
                path.with_suffix(".ckpt").unlink(missing_ok=True)
                probe = Probe()
                gc.collect()
                started = time.process_time()
                received, calls = asyncio.run(bench(path, probe))
                elapsed = time.process_time() - started
                assert received == expected, (label, received, expected)
                assert len(probe.latencies) == expected, (label, len(probe.latencies))
                rate = count / elapsed
                base = base or rate
                row = rows[label]
                row.rates.append(rate)
                row.ratios.append(rate / base)
                row.calls = calls
                row.cpu_us.append(elapsed / expected * 1e6)
                p50, p99 = probe.p50_p99_ms()
                row.p50.append(p50)
                row.p99.append(p99)
                progress.advance(task)
    return list(rows.values())


def table(title: str, headers: list[str], rows: list[list[str]]) -> Table:
    """A table whose cells are plain `Text`: brackets in them are never read as markup."""
    grid = Table(title=title)
    for n, header in enumerate(headers):
        grid.add_column(header, justify="left" if n == 0 else "right")
    for row in rows:
        grid.add_row(*(Text(cell) for cell in row))
    return grid


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.events < 1 or args.rounds < 1:
        parser.error("--events and --rounds must be at least 1")
    console = Console(width=80)
    with Progress(console=console, transient=True) as progress:
        filters = bench_filters(make_events(args.events), args.rounds)
        pipelines = bench_pipelines(args.events, args.rounds, progress)
    spreads = "min/med/max"
    console.print(
        table(
            f"{args.events:,} events, interleaved rounds: {args.rounds}",
            ["what", f"k events/s\n{spreads}", f"x ceiling\n{spreads}"],
            [
                [r.label, spread([x / 1e3 for x in r.rates], ",.0f"), spread(r.ratios, ".2f")]
                for r in filters
            ],
        )
    )
    console.print(
        table(
            "pipelines: file → decode → where → agent",
            ["what", f"k events/s\n{spreads}", f"x ceiling\n{spreads}", "calls", "CPU µs/\nmatch"],
            [
                [
                    r.label,
                    spread([x / 1e3 for x in r.rates], ".0f"),
                    spread(r.ratios, ".2f"),
                    f"{r.calls:,}",
                    f"{statistics.median(r.cpu_us):.1f}",
                ]
                for r in pipelines
            ],
        )
    )
    console.print(
        table(
            "latency, ms: record decoded → its handler's end",
            ["what", f"p50 {spreads}", f"p99 {spreads}"],
            [[r.label, millis(r.p50), millis(r.p99)] for r in pipelines],
        )
    )
    plain, flowing = bench_flow_stage(args.events, args.rounds)
    added = [f - p for p, f in zip(plain, flowing, strict=True)]
    console.print(
        table(
            "handing a delivery to a runner, CPU µs",
            ["what", spreads],
            [
                ["no flow", spread(plain, ".2f")],
                ["through each(map)", spread(flowing, ".2f")],
                ["a flow stage adds", spread(added, ".2f")],
            ],
        )
    )


if __name__ == "__main__":
    main()
