"""Throughput of reagents next to the raw ceiling measured in the same run.

    python benchmarks/run.py [--events N] [--rounds K]

Every figure is a ratio to a hand-written equivalent timed in the same process, in
interleaved rounds (ceiling, then each variant, then the ceiling again...), so the
numbers mean something on a noisy machine: each row shows the minimum, median and
maximum over the rounds of events/s and of the ratio to that round's ceiling. Times
are CPU seconds of this process (``time.process_time``). Nothing here is asserted.

Pipelines (JSONL file → decode → 3-condition filter → async agent → output event):

* no flow: the agent handles each matching event;
* ``where → map``: the same, through a flow with one element-wise step;
* ``where → batch(1 s)``: the agent gets lists (handler calls counted);
* ``by_key + batch``: one batch per symbol.

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

from reactivex import operators as ops
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from workload import EXPRESSION, make_events, plain_predicate

from reagents import (
    Agent,
    AgentEvent,
    DeadLetter,
    FileSource,
    MemoryDeadLetters,
    Pipeline,
    batch,
    by_key,
    decode_event,
    each,
    encode_event,
    where,
)
from reagents.delivery import Ack
from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.runner import AgentRunner

Bench = Callable[[Path], Coroutine[Any, Any, tuple[int, int]]]


@dataclass
class Row:
    """One variant's rates over the rounds and its ratios to each round's ceiling."""

    label: str
    rates: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    calls: int = 0
    cpu_us: list[float] = field(default_factory=list)


def spread(values: list[float], fmt: str) -> str:
    """``min / median / max`` of ``values``."""
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}}/{mid:{fmt}}/{high:{fmt}}"


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


async def signal(event: AgentEvent) -> AgentEvent:
    return event.derive("trade_signal", {"symbol": event.payload["symbol"]})


async def digest(events: list[AgentEvent]) -> AgentEvent:
    return events[-1].derive("trade_digest", {"count": len(events)})


def symbol(event: AgentEvent) -> Any:
    return event.payload["symbol"]


def same(event: AgentEvent) -> AgentEvent:
    return event


async def hand_written_loop(path: Path) -> tuple[int, int]:
    """Read, decode, filter, await the handler, make the output event: no library."""
    calls = 0
    with path.open("rb") as file:
        for line in file:
            event = decode_event(line)
            if plain_predicate(event):
                await signal(event)
                calls += 1
    return calls, calls


async def run_pipeline(path: Path, agent: Agent[Any]) -> tuple[int, int]:
    pipeline = Pipeline("bench", dead_letters=MemoryDeadLetters())
    pipeline.add_source(FileSource(path, checkpoint_path=path.with_suffix(".ckpt")))
    pipeline.add_agent(agent)
    await pipeline.run()
    stats = pipeline.stats()[agent.id]
    return stats.received, stats.processed


def variants() -> dict[str, Bench]:
    def make(agent: Callable[[], Agent[Any]]) -> Bench:
        return lambda path: run_pipeline(path, agent())

    return {
        "no flow": make(lambda: Agent(signal, id="a", subscription=EXPRESSION, max_concurrent=4)),
        "where→map": make(
            lambda: Agent(
                signal,
                id="a",
                subscription=EXPRESSION,
                max_concurrent=4,
                flow=[each(ops.map(same))],
            )
        ),
        "where→batch(1s)": make(
            lambda: Agent(digest, id="a", subscription=EXPRESSION, flow=[batch(1_000, within=1.0)])
        ),
        "by_key+batch": make(
            lambda: Agent(
                digest,
                id="a",
                subscription=EXPRESSION,
                flow=[by_key(symbol, batch(500, within=1.0), max_keys=10)],
            )
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
                gc.collect()
                started = time.process_time()
                received, calls = asyncio.run(bench(path))
                elapsed = time.process_time() - started
                assert received == expected, (label, received, expected)
                rate = count / elapsed
                base = base or rate
                row = rows[label]
                row.rates.append(rate)
                row.ratios.append(rate / base)
                row.calls = calls
                row.cpu_us.append(elapsed / expected * 1e6)
                progress.advance(task)
    return list(rows.values())


class _Host:
    """A runner host that only settles what it is given."""

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        """Reactions are not routed here."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Nothing fails here."""

    def finished(self, delivery: Delivery) -> None:
        delivery.ack.release()


def bench_flow_stage(count: int, rounds: int) -> tuple[list[float], list[float]]:
    """µs per delivery to hand ``count`` deliveries to a runner: no flow, then a flow."""
    events = make_events(count)

    def nothing(event: AgentEvent) -> None:
        return None

    async def hand_over(flow: bool) -> float:
        steps = [each(ops.map(same))] if flow else None
        runner = AgentRunner(Agent(nothing, id="a", flow=steps), _Host())
        if runner.flow is not None:
            runner.flow.start()
        deliveries = [Delivery(e, Ack(_nothing), 0) for e in events]

        def submit_all() -> None:
            for delivery in deliveries:
                runner.submit(delivery)

        elapsed = cpu_seconds(submit_all)
        return elapsed / count * 1e6

    plain: list[float] = []
    flowing: list[float] = []
    for _ in range(rounds):
        plain.append(asyncio.run(hand_over(False)))
        flowing.append(asyncio.run(hand_over(True)))
    return plain, flowing


def _nothing() -> None:
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    console = Console(width=80)
    with Progress(console=console, transient=True) as progress:
        filters = bench_filters(make_events(args.events), args.rounds)
        pipelines = bench_pipelines(args.events, args.rounds, progress)
    title = f"{args.events:,} events, {args.rounds} interleaved rounds: min/median/max"
    table = Table(title=title)
    for column in ("what", "k events/s", "x ceiling"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in filters:
        table.add_row(
            row.label, spread([r / 1e3 for r in row.rates], ",.0f"), spread(row.ratios, ".2f")
        )
    console.print(table)
    table = Table(title="pipelines: file → decode → where → agent")
    for column in ("what", "k events/s", "x ceiling", "calls", "µs/match"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in pipelines:
        table.add_row(
            row.label,
            spread([r / 1e3 for r in row.rates], ".0f"),
            spread(row.ratios, ".2f"),
            f"{row.calls:,}",
            f"{statistics.median(row.cpu_us):.1f}",
        )
    console.print(table)
    plain, flowing = bench_flow_stage(args.events, args.rounds)
    added = [f - p for p, f in zip(plain, flowing, strict=True)]
    console.print(
        f"handing a delivery to a runner: {spread(plain, '.2f')} µs without a flow, "
        f"{spread(flowing, '.2f')} µs through each(map): "
        f"a flow stage adds {spread(added, '.2f')} µs (min/median/max)"
    )


if __name__ == "__main__":
    main()
