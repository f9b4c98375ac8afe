"""The transport contract on `MemoryLog`, the in-memory double with Kafka's semantics."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from reagents.events import AgentEvent
from reagents.policies import Watermarks
from reagents.sinks.base import Sink
from reagents.sources.base import Source
from reagents.testing import MemoryLog, MemoryLogSink, MemoryLogSource
from tests.transports.contract import Transport, TransportContract


class MemoryLogTransport(Transport):
    """Input and output are two `MemoryLog`s; the checkpoint is the group's offset."""

    def __init__(self) -> None:
        self.input = MemoryLog("in")
        self.output = MemoryLog("out")

    async def write_records(self, records: Sequence[bytes]) -> None:
        for record in records:
            self.input.append(record)

    def source(self, *, batch_size: int = 64, window: Watermarks | None = None) -> Source:
        return MemoryLogSource(self.input, batch_size=batch_size, window=window)

    async def checkpoint(self) -> int:
        return self.input.committed()

    def pauses(self, source: Source) -> int | None:
        assert isinstance(source, MemoryLogSource)
        return source.pauses

    def origin(self, position: int) -> str:
        return f"in@{position}"

    def sink(self, subscription: str) -> Sink:
        return MemoryLogSink(self.output, subscription, flush_every=1000)

    async def written(self) -> list[AgentEvent]:
        return self.output.events()


class TestMemoryLog(TransportContract):
    @pytest.fixture
    def transport(self) -> Transport:
        return MemoryLogTransport()
