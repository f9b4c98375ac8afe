"""CPU per event of an agent's runner handling events, and what observability adds.

    python benchmarks/handling.py [--events N] [--rounds K] [--tracing]

A runner with a do-nothing sync handler is handed N deliveries and run until every one
is settled; the figure is CPU µs per event (``time.process_time``), min/median/max over
interleaved rounds. ``--tracing`` adds rounds with OpenTelemetry spans on (an SDK
tracer provider whose spans go nowhere: the cost of making them). The latency
sketches' own cost (one ``LatencyParts.record``: total, wait, handling) is timed
alone. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
from typing import Any

from workload import make_events

from reagents import Agent, AgentEvent, DeadLetter
from reagents.delivery import Ack
from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.runner import AgentRunner


class _Host:
    """A runner host that counts what is settled and drops reactions."""

    def __init__(self, count: int) -> None:
        self.left = count
        self.done = asyncio.get_running_loop().create_future()

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        """Reactions are not routed here."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Nothing fails here."""

    def finished(self, delivery: Delivery) -> None:
        self.left -= 1
        if self.left == 0:
            self.done.set_result(None)


def _nothing(event: AgentEvent) -> None:
    return None


def _release() -> None:
    return None


async def handle_all(events: list[AgentEvent], observer: Any = None) -> float:
    """CPU µs per event for a runner to handle ``events`` (with ``observer``, if any)."""
    host = _Host(len(events))
    runner = AgentRunner(Agent(_nothing, id="a"), host)
    if observer is not None:
        runner.observer = observer
    deliveries = [Delivery(e, Ack(_release), 0) for e in events]
    gc.collect()
    started = time.process_time()
    runner.start()
    for delivery in deliveries:
        runner.submit(delivery)
    await host.done
    elapsed = time.process_time() - started
    await runner.stop()
    return elapsed / len(events) * 1e6


def sketch_ns(count: int) -> float:
    """ns per `LatencyParts.record` (the whole-run latency, its wait and handling)."""
    from reagents.pipelines.latency import LatencyParts

    parts = LatencyParts()
    values = [(i % 1000) * 10_000 + 1_000 for i in range(count)]  # 1 µs .. 10 ms
    record = parts.record
    started = time.perf_counter()
    for value in values:
        record(value, value >> 2)
    return (time.perf_counter() - started) / count * 1e9


def tracing_observer() -> Any:
    """An OpenTelemetry observer whose spans are made and ended, then dropped."""
    from opentelemetry.sdk.trace import TracerProvider

    from reagents.otel import TracingObserver

    return TracingObserver(TracerProvider())


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tracing", action="store_true")
    args = parser.parse_args()
    events = make_events(args.events)
    off: list[float] = []
    on: list[float] = []
    for _ in range(args.rounds):
        off.append(asyncio.run(handle_all(events)))
        if args.tracing:
            on.append(asyncio.run(handle_all(events, tracing_observer())))
    print(f"{args.events:,} events, {args.rounds} rounds, CPU µs/event min / median / max")
    print(f"  runner, tracing off: {spread(off)}")
    if on:
        print(f"  runner, tracing on:  {spread(on)}")
        added = [b - a for a, b in zip(off, on, strict=True)]
        print(f"  tracing adds:        {spread(added)}")
    try:
        sketch = [sketch_ns(args.events) for _ in range(args.rounds)]
    except ImportError:
        return  # a checkout without the whole-run latency sketch
    print(f"  LatencyParts.record (3 sketches): {spread(sketch)} ns")


if __name__ == "__main__":
    main()
