"""Regressions found by the file-pipeline integration tests (replay into itself, yielding).

Both were found by the integration tests and fixed; these keep them fixed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reagents import ConfigurationError, FileSource, JsonlDeadLetterLog, MemoryDeadLetters, Pipeline
from reagents.dead_letter import DeadLetter

pytestmark = pytest.mark.integration


class CappedDeadLetterLog(JsonlDeadLetterLog):
    """A JSONL dead-letter log that refuses to grow past ``cap`` letters (so a runaway
    loop ends in an error instead of filling the disk)."""

    def __init__(self, path: Path, cap: int) -> None:
        super().__init__(path)
        self.cap = cap

    def write(self, letter: DeadLetter) -> None:
        if self.written >= self.cap:
            raise RuntimeError(f"more than {self.cap} dead letters: the replay feeds itself")
        super().write(letter)


async def test_replaying_the_dead_letter_log_into_itself_terminates(tmp_path: Path) -> None:
    dlq = tmp_path / "dead_letters.jsonl"
    first = Pipeline("first", sources=[FileSource(_garbage(tmp_path, 2))], dead_letters=dlq)
    await first.run()
    assert dlq.read_bytes().count(b"\n") == 2

    try:
        replay = Pipeline(
            "replay", sources=[FileSource(dlq)], dead_letters=CappedDeadLetterLog(dlq, cap=50)
        )
        await replay.run()  # today: SourceFailedError from the cap after 50 self-fed letters
    except ConfigurationError:
        return  # refusing to replay a log into itself is a fix too
    assert dlq.read_bytes().count(b"\n") == 4  # the 2 originals + 2 re-failures


async def test_pump_yields_to_the_loop_between_batches(tmp_path: Path) -> None:
    pipeline = Pipeline(
        "starve",
        sources=[FileSource(_garbage(tmp_path, 2000), batch_size=10)],
        dead_letters=MemoryDeadLetters(),
    )
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(pipeline.counters.ingested)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    try:
        await pipeline.run()
    finally:
        watcher.cancel()
    assert pipeline.counters.ingested == 2000
    # 200 batches: another task must get a turn while they are read.
    assert any(0 < n < 2000 for n in seen), sorted(set(seen))


def _garbage(tmp_path: Path, lines: int) -> Path:
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(b"not an event\n" * lines)
    return path
