"""The transport contract on JSONL files: `FileSource` (checkpoint file) and `FileSink`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from reagents.events import AgentEvent, decode_event
from reagents.policies import Watermarks
from reagents.sinks.base import Sink
from reagents.sinks.file import FileSink
from reagents.sources.base import Source
from reagents.sources.file import FileSource, read_checkpoint
from tests.transports.contract import Transport, TransportContract


class FileTransport(Transport):
    """Input ``in.jsonl`` (one record a line), output ``out.jsonl``.

    A file source has no window of its own: the pipeline pauses it by not pulling it.
    """

    def __init__(self, directory: Path) -> None:
        self.input = directory / "in.jsonl"
        self.input.touch()
        self.output = directory / "out.jsonl"

    async def write_records(self, records: Sequence[bytes]) -> None:
        with open(self.input, "ab") as file:
            for record in records:
                file.write(record + b"\n")

    def source(self, *, batch_size: int = 64, window: Watermarks | None = None) -> Source:
        return FileSource(self.input, start="checkpoint", batch_size=batch_size)

    async def checkpoint(self) -> int:
        stored = read_checkpoint(self.input.with_name("in.jsonl.checkpoint"))
        return stored.line if stored is not None else 0

    def origin(self, position: int) -> str:
        return f"in.jsonl:{position + 1}"

    def sink(self, subscription: str) -> Sink:
        return FileSink(self.output, subscription, flush_every=1000)

    async def written(self) -> list[AgentEvent]:
        if not self.output.exists():
            return []
        return [decode_event(line) for line in self.output.read_bytes().splitlines()]


class TestFile(TransportContract):
    @pytest.fixture
    def transport(self, tmp_path: Path) -> Transport:
        return FileTransport(tmp_path)
