"""The `Sink` contract: where matching events are written, in order, with an ack after.

The pipeline feeds each sink from its own queue through one worker, so a sink sees
events one at a time in routing order and never needs locking. A record that went
to a sink is acknowledged once `Sink.write` returned; durability beyond that is the
sink's flush policy.

Sinks are async context managers (``async with FileSink(path) as sink:``) and dead-letter
sinks are context managers both ways (``with`` calls `DeadLetterSink.close`, ``async
with`` awaits `DeadLetterSink.aclose`). A pipeline closes its sinks when it stops;
closing twice is harmless.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from reagents.closing import Closing
from reagents.dead_letter import DeadLetter
from reagents.events import AgentEvent
from reagents.operators.expression import where
from reagents.operators.filters import Filter, any_event

__all__ = ["DeadLetterSink", "Sink"]


class Sink(ABC):
    """Receives the events its ``subscription`` (a Filter or a ``where`` text) matches."""

    name: str = "sink"

    def __init__(self, subscription: Filter | str | None = None, name: str | None = None) -> None:
        if isinstance(subscription, str):
            subscription = where(subscription)
        self.subscription: Filter = subscription if subscription is not None else any_event()
        if name is not None:
            self.name = name

    @abstractmethod
    async def write(self, event: AgentEvent) -> None:
        """Write one event (it may be buffered until `flush`)."""

    async def flush(self) -> None:  # noqa: B027  (optional hook)
        """Push buffered events to their destination."""

    async def close(self) -> None:
        """Flush and release resources (the pipeline calls it when it stops)."""
        await self.flush()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return self.name


class DeadLetterSink(Closing, ABC):
    """Where a pipeline puts what it could not handle; writes must not fail silently."""

    @abstractmethod
    def write(self, letter: DeadLetter) -> None:
        """Record one dead letter (synchronously: a dead letter is never left in flight)."""

    def close(self) -> None:
        """Flush and release resources."""

    def describe(self) -> str:
        """Where the dead letters go, for a person (``reagents run`` says it at start)."""
        return type(self).__name__

    async def aclose(self) -> None:
        """Flush and release resources, waiting for writes still under way (the pipeline
        calls this when it stops; a sink that writes remotely overrides it)."""
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
