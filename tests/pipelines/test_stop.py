"""`stop` (Ctrl-C in the CLI): not one more record is read, in-flight work drains,
and the source checkpoints everything it handed out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reagents.events import AgentEvent, encode_event
from reagents.pipelines.pipeline import Pipeline
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
