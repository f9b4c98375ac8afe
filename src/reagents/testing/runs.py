"""Run a pipeline on some events in memory and report everything that happened."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field

from reagents.dead_letter import DeadLetter
from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemoryDeadLetters

__all__ = ["PipelineRun", "memory_pipeline", "run_events"]


def memory_pipeline(name: str = "test") -> Pipeline:
    """A pipeline whose dead letters stay in memory (nothing is written to disk)."""
    return Pipeline(name, dead_letters=MemoryDeadLetters())


@dataclass
class PipelineRun:
    """What a pipeline did with some events: the bus traffic and the dead letters."""

    events: list[AgentEvent] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def of_type(self, event_type: str) -> list[AgentEvent]:
        """The bus events of exactly ``event_type``, in order."""
        return [event for event in self.events if event.event_type == event_type]

    def types(self) -> list[str]:
        """The type of every bus event, in order."""
        return [event.event_type for event in self.events]


async def run_events(
    pipeline: Pipeline, events: Iterable[AgentEvent], *, timeout: float = 30.0
) -> PipelineRun:
    """Publish ``events``, run ``pipeline`` until everything drained, report what happened.

    Dead letters are collected when the pipeline's dead-letter sink is a
    `MemoryDeadLetters` (as with `memory_pipeline`). Raises `TimeoutError` if the
    pipeline has not finished after ``timeout`` seconds.
    """
    run = PipelineRun()
    subscription = pipeline.events.subscribe(run.events.append)
    letters = pipeline.dead_letter_sink
    already = len(letters.letters) if isinstance(letters, MemoryDeadLetters) else 0
    try:
        for event in events:
            pipeline.publish(event)
        await asyncio.wait_for(pipeline.run(), timeout)
    finally:
        subscription.dispose()
    if isinstance(letters, MemoryDeadLetters):
        run.dead_letters = letters.letters[already:]
    return run
