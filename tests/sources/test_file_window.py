"""FileSource's window: lines read past the oldest unacknowledged one stay bounded."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from pathlib import Path

from reagents.delivery import Incoming
from reagents.events import AgentEvent, encode_event
from reagents.policies import Watermarks
from reagents.sources.file import FileSource


def write_log(path: Path, count: int) -> Path:
    lines = (encode_event(AgentEvent(event_type="tick", payload={"n": n})) for n in range(count))
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


async def read_until_paused(source: FileSource, got: list[Incoming]) -> asyncio.Task[None]:
    """Read in the background into ``got``; return once reading stopped for a while."""

    async def read() -> None:
        async with aclosing(source.batches()) as batches:
            async for batch in batches:
                got.extend(batch)

    task = asyncio.create_task(read())
    for _ in range(5):
        await asyncio.sleep(0.01)
    return task


async def test_reading_pauses_at_the_window_behind_one_unacknowledged_line(
    tmp_path: Path,
) -> None:
    source = FileSource(
        write_log(tmp_path / "e.jsonl", 100), batch_size=4, window=Watermarks(high=10, low=5)
    )
    got: list[Incoming] = []
    reader = await read_until_paused(source, got)
    assert len(got) == 10  # high lines past the oldest unacknowledged line, not one more

    for incoming in got[1:]:  # every line but the first: the prefix cannot move
        incoming.ack()
    for _ in range(5):
        await asyncio.sleep(0.01)
    assert len(got) == 10
    assert source.checkpoint.line == 0

    got[0].ack()  # the prefix jumps to line 10: reading resumes up to line 20
    for _ in range(5):
        await asyncio.sleep(0.01)
    assert source.checkpoint.line == 10
    assert len(got) == 20
    source.stop()
    await asyncio.wait_for(reader, 1.0)


async def test_acks_in_order_resume_at_the_low_mark(tmp_path: Path) -> None:
    source = FileSource(
        write_log(tmp_path / "e.jsonl", 100), batch_size=3, window=Watermarks(high=9, low=3)
    )
    got: list[Incoming] = []
    reader = await read_until_paused(source, got)
    assert len(got) == 9
    for incoming in got[:5]:  # 4 unacknowledged: above the low mark
        incoming.ack()
    for _ in range(5):
        await asyncio.sleep(0.01)
    assert len(got) == 9
    got[5].ack()  # 3 left: resume
    for _ in range(5):
        await asyncio.sleep(0.01)
    assert len(got) == 15
    source.stop()
    await asyncio.wait_for(reader, 1.0)


async def test_with_every_line_acked_the_whole_file_is_read(tmp_path: Path) -> None:
    source = FileSource(write_log(tmp_path / "e.jsonl", 1000), window=Watermarks(high=10, low=5))
    count = 0
    async with aclosing(source.batches()) as batches:
        async for batch in batches:
            for incoming in batch:
                incoming.ack()
            count += len(batch)
    assert count == 1000
