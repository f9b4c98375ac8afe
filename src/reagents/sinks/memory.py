"""In-memory sinks for tests and notebooks: what a pipeline wrote, as plain lists."""

from __future__ import annotations

from reagents.dead_letter import DeadLetter
from reagents.events import AgentEvent
from reagents.operators.filters import Filter
from reagents.sinks.base import DeadLetterSink, Sink

__all__ = ["MemoryDeadLetters", "MemorySink"]


class MemorySink(Sink):
    """Collects the events its subscription matches in ``events``, in arrival order."""

    name = "memory"

    def __init__(self, subscription: Filter | str | None = None, name: str | None = None) -> None:
        super().__init__(subscription, name)
        self.events: list[AgentEvent] = []

    def __len__(self) -> int:
        """How many events were written."""
        return len(self.events)

    async def write(self, event: AgentEvent) -> None:
        """Append ``event`` to ``events``."""
        self.events.append(event)

    def event_types(self) -> list[str]:
        """The ``event_type`` of every collected event, in order (handy in assertions)."""
        return [event.event_type for event in self.events]


class MemoryDeadLetters(DeadLetterSink):
    """Collects dead letters in ``letters``, in arrival order."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def __len__(self) -> int:
        """How many dead letters were written."""
        return len(self.letters)

    def write(self, letter: DeadLetter) -> None:
        """Append ``letter`` to ``letters``."""
        self.letters.append(letter)
