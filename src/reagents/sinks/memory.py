"""In-memory sinks for tests and notebooks: what a pipeline wrote, as plain lists.

`UnsavedDeadLetters` is also where a pipeline's dead letters go when it was given no
place for them: a library writes no file it was not asked to write.
"""

from __future__ import annotations

import logging

from reagents.dead_letter import DeadLetter
from reagents.events import AgentEvent
from reagents.operators.filters import Filter
from reagents.sinks.base import DeadLetterSink, Sink

__all__ = ["MemoryDeadLetters", "MemorySink", "UnsavedDeadLetters"]

_log = logging.getLogger(__name__)


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
    """Collects dead letters in ``letters``, in arrival order.

    With a ``limit`` only the last ``limit`` are kept (``dropped`` counts the others),
    so a long run cannot fill the memory with them.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and limit < 1:
            raise ValueError(f"limit must be >= 1 (or None for no limit), got {limit}")
        self.letters: list[DeadLetter] = []
        self.limit = limit
        self.dropped = 0

    def __len__(self) -> int:
        """How many dead letters are kept."""
        return len(self.letters)

    def write(self, letter: DeadLetter) -> None:
        """Append ``letter`` to ``letters`` (dropping the oldest beyond ``limit``)."""
        self.letters.append(letter)
        if self.limit is not None and len(self.letters) > self.limit:
            del self.letters[0]
            self.dropped += 1

    def describe(self) -> str:
        """``memory``, and how many it keeps."""
        kept = "" if self.limit is None else f" (the last {self.limit:,})"
        return f"memory, not saved{kept}"


class UnsavedDeadLetters(MemoryDeadLetters):
    """A pipeline's dead letters when it was told nowhere to put them.

    It keeps the last ``limit`` in memory (``pipeline.dead_letter_sink.letters``) and
    logs one WARNING at the first, saying they are not saved and how to save them; a
    failing agent also logs each failure with its traceback. Not a file in the working
    directory: nobody expects a library to write one there unasked.
    """

    def __init__(self, limit: int = 1000) -> None:
        super().__init__(limit)
        self._warned = False

    def write(self, letter: DeadLetter) -> None:
        """Keep ``letter``; the first one also logs where dead letters go (nowhere)."""
        if not self._warned:
            self._warned = True
            _log.warning(
                "a dead letter (%s, %s: %s) is kept in memory only: pass "
                "Pipeline(dead_letters='dead_letters.jsonl') (or a KafkaDeadLetterSink) "
                "to keep dead letters for `reagents dlq`",
                *(letter.stage.value, letter.error_type, letter.message),
            )
        super().write(letter)

    def describe(self) -> str:
        """Memory, not saved, and how to save them."""
        kept = super().describe()
        return f"{kept}: declare Pipeline(dead_letters='dead_letters.jsonl') to keep them"
