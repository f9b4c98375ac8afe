"""The stats tables: whole-run percentiles, waiting and handling rows, 80 columns."""

from __future__ import annotations

import asyncio
import math
import time

from rich.console import Console

from reagents import AgentEvent, MemoryDeadLetters, MemorySource, Pipeline
from reagents.cli.reporting import Outcome, summary
from reagents.pipelines.latency import RELATIVE_ERROR
from reagents.pipelines.stats import AgentStats, StatsTable

LONG = "a-pipeline-agent-with-a-rather-long-descriptive-name"


def _busy_table() -> StatsTable:
    """Big counts, a long name and latencies from 10 µs to 20 minutes."""
    stats = AgentStats(received=9_999_999, processed=9_999_999, failed=1_234_567)
    stats.retried = stats.dead_lettered = stats.emitted = 7_654_321
    for ns in (10_000, 5_000_000, 1_200_000_000_000):
        stats.latency.record(ns, ns // 2)
    return StatsTable({"vwap": stats.snapshot("vwap", 1234), LONG: stats.snapshot(LONG, 99)})


def test_every_line_of_the_text_tables_fits_80_columns() -> None:
    text = str(_busy_table())
    assert max(len(line) for line in text.splitlines()) <= 80
    for header in ("p50", "p90", "p99", "p99.9", "max", "queued", "in flight", "dead letters"):
        assert header in text
    cut = [line.split()[0] for line in text.splitlines() if line.startswith("a-pipe")]
    assert len(cut) == 2
    assert all(n.startswith("a-pipe") and "…" in n for n in cut)
    assert all(n.endswith("name") for n in cut)  # cut in the middle: both ends kept
    assert LONG in [row[0] for row in _busy_table().rows()]  # the rows keep it whole


def test_each_agent_has_a_latency_row_then_waiting_and_handling() -> None:
    head, *rows = _busy_table().latency_rows()
    assert head == ["latency ms", "queued", "in flight", "p50", "p90", "p99", "p99.9", "max"]
    assert [row[0] for row in rows[:3]] == ["vwap", "  waiting", "  handling"]
    assert rows[0][1:3] == ["1234", "0"]
    assert rows[1][1:3] == ["", ""]
    # p50 of 15 µs, 7.5 ms and 30 min: 7.5 ms (within 0.8%)
    assert math.isclose(float(rows[0][3]), 7.5, rel_tol=RELATIVE_ERROR)
    assert rows[1][7] == "1.2e+06"  # the longest wait: 20 minutes, in ms


async def test_the_cli_summary_fits_80_columns_without_wrapping_a_row() -> None:
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.agent(id=LONG, subscription="type = tick")(lambda event: None)
    pipeline.add_source(MemorySource.from_events([AgentEvent(event_type="tick")] * 3))
    await pipeline.run()
    console = Console(width=80, record=True, color_system=None)
    summary(console, pipeline, Outcome.FINISHED, 1.0)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    counts = [line for line in lines if line.startswith("a-pipeline")]
    assert len(counts) == 2  # its counts row and its latency row, one line each
    assert counts[0].split()[1:] == ["3", "3", "0", "0", "0", "0"]
    assert len(counts[1].split()) == 8
    assert any(line.startswith("  waiting") for line in lines)


async def test_percentiles_cover_the_whole_run_not_the_last_4096_events() -> None:
    """60 slow events (10 ms) first, then 4,500 fast ones: 1.3% of the run is slow, so
    its p99 is too (a sample of the last 4,096 latencies saw only fast ones)."""
    pipeline = Pipeline("run", dead_letters=MemoryDeadLetters())

    @pipeline.agent(id="a", subscription="type = tick")
    def handler(event: AgentEvent) -> None:
        if event.payload["slow"]:
            time.sleep(0.01)

    async with pipeline.serving():
        for n in range(4560):
            pipeline.publish(AgentEvent(event_type="tick", payload={"slow": n < 60}))
            if n % 100 == 99 or n == 59:
                await pipeline.wait_idle()
        await pipeline.wait_idle()
    snap = pipeline.stats()["a"]
    assert snap.processed == 4560
    assert snap.latency_p99_ms >= 10 * (1 - RELATIVE_ERROR)


async def test_latency_is_waiting_in_the_queue_plus_handling() -> None:
    """One worker, a 20 ms handler, 5 events at once: the last waits 4 handlings."""
    pipeline = Pipeline("queue", dead_letters=MemoryDeadLetters())

    @pipeline.agent(id="slow", subscription="type = tick", max_concurrent=1)
    async def slow(event: AgentEvent) -> None:
        await asyncio.sleep(0.02)

    pipeline.add_source(MemorySource.from_events([AgentEvent(event_type="tick")] * 5))
    await pipeline.run()
    snap = pipeline.stats()["slow"]
    assert 20 * (1 - RELATIVE_ERROR) <= snap.handling_p50_ms < 40
    assert snap.handling_max_ms < 60
    assert 4 * 20 * (1 - RELATIVE_ERROR) <= snap.queued_max_ms < 4 * 20 + 100
    assert snap.queued_p50_ms >= 2 * 20 * (1 - RELATIVE_ERROR)
    assert math.isclose(
        snap.latency_max_ms, snap.queued_max_ms + snap.handling_max_ms, rel_tol=0.05
    )
