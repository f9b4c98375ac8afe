"""The in-process benchmark's latency: one span, measured the same way on both sides.

The span: from the moment a record is decoded and handed on (the hand-written loop:
right after ``decode_event`` of its line; reagents: when the `FileSource` hands the
batch holding it to the pipeline) to the end of the handler call that handled it (for
a batch, the end of the call that got the batch). So reagents' figure includes what
happens between the source and the handler (routing, queueing behind the rest of the
batch, the runner, a flow's window); the hand loop's the filter and the handler.

Both sides pay about the same for measuring: a dict entry per record (and a clock
read per record in the loop, per batch in the source), a clock read per handler call
and a subtraction per event handled. Wall time (``time.perf_counter_ns``), unlike the
throughput figures (CPU time).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

from reagents import AgentEvent, FileSource, Incoming


class Probe:
    """When each event was handed on, and each handled event's latency (ns)."""

    def __init__(self) -> None:
        self.stamps: dict[str, int] = {}
        self.latencies: list[int] = []

    async def signal(self, event: AgentEvent) -> AgentEvent:
        """The benchmark's handler: an output event per input (latency noted)."""
        out = event.derive("trade_signal", {"symbol": event.payload["symbol"]})
        self.latencies.append(time.perf_counter_ns() - self.stamps.pop(event.event_id))
        return out

    async def digest(self, events: list[AgentEvent]) -> AgentEvent:
        """The batching variants' handler: one output event per batch."""
        out = events[-1].derive("trade_digest", {"count": len(events)})
        now, stamps, latencies = time.perf_counter_ns(), self.stamps, self.latencies
        for event in events:
            latencies.append(now - stamps.pop(event.event_id))
        return out

    def p50_p99_ms(self) -> tuple[float, float]:
        """The median and 99th percentile of the latencies, in ms."""
        if len(self.latencies) < 2:
            only = self.latencies[0] / 1e6 if self.latencies else float("nan")
            return only, only
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[49] / 1e6, cuts[98] / 1e6


class StampedFileSource(FileSource):
    """A `FileSource` that stamps each decoded event as its batch is handed over."""

    def __init__(self, probe: Probe, path: Path, checkpoint_path: Path) -> None:
        super().__init__(path, checkpoint_path=checkpoint_path)
        self._probe_stamps = probe.stamps

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        stamps = self._probe_stamps
        async for batch in super().batches():
            now = time.perf_counter_ns()
            for incoming in batch:
                if isinstance(incoming.item, AgentEvent):
                    stamps[incoming.item.event_id] = now
            yield batch
