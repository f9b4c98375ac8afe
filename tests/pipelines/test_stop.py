"""`stop` (Ctrl-C in the CLI): not one more record is read, in-flight work drains,
and the source checkpoints everything it handed out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reagents.events import AgentEvent, encode_event
from reagents.operators.batch import batch
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.file import FileSource, read_checkpoint


def write_log(path: Path, count: int) -> Path:
    lines = (
        encode_event(AgentEvent(event_type="tick", payload={"n": n}, priority=1 + n % 10))
        for n in range(count)
    )
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def test_stop_reads_no_more_drains_and_checkpoints_what_was_read(tmp_path: Path) -> None:
    log = write_log(tmp_path / "events.jsonl", 20_000)
    source = FileSource(log, checkpoint_every=100)
    pipeline = Pipeline("stop", sources=[source], dead_letters=MemoryDeadLetters())
    handled: list[int] = []
    read_at_stop: list[int] = []

    @pipeline.agent(subscription="type = tick", max_concurrent=8)
    async def slow(event: AgentEvent) -> None:
        await asyncio.sleep(0.001)
        handled.append(event.payload["n"])
        if len(handled) == 200:
            read_at_stop.append(pipeline.counters.ingested)
            pipeline.request_stop()

    await asyncio.wait_for(pipeline.run(), 30)

    read = pipeline.counters.ingested
    assert read == read_at_stop[0] < 20_000  # not one record read after the stop
    assert len(handled) == len(set(handled)) == read  # everything read was handled
    assert pipeline.in_flight == 0
    checkpoint = read_checkpoint(source.checkpoint_path)
    assert checkpoint is not None
    assert checkpoint.line == read  # and checkpointed


async def test_a_flow_holding_sparse_events_does_not_stall_a_file_window(
    tmp_path: Path,
) -> None:
    """One line in ten is a tick; a count batch of 100 ticks spans 1,000 lines, past
    the file's window of 300: the window reads on while only the flow holds lines."""
    lines = (
        encode_event(AgentEvent(event_type="tick" if n % 10 == 0 else "noise", payload={"n": n}))
        for n in range(3000)
    )
    log = tmp_path / "sparse.jsonl"
    log.write_bytes(b"\n".join(lines) + b"\n")
    source = FileSource(log, window=Watermarks(high=300, low=150))
    pipeline = Pipeline("sparse", sources=[source], dead_letters=MemoryDeadLetters())
    sizes: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(100)])
    async def tally(ticks: list[AgentEvent]) -> None:
        sizes.append(len(ticks))

    await asyncio.wait_for(pipeline.run(), 10)
    assert sizes == [100, 100, 100]
    assert source.checkpoint.line == 3000
