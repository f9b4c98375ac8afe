"""`MemorySource`: events published from code into a bounded in-process buffer.

A push source cannot be paused, so it buffers at most ``capacity`` events and applies
an explicit `Overflow` policy to one more. Nothing is lost silently: a dropped event
goes to ``on_drop`` (a pipeline dead-letters it), ``error`` raises at the publisher,
and ``block`` makes `MemorySource.publish` wait for room.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence

from reagents.delivery import Incoming
from reagents.errors import BufferOverflowError, ReagentsError
from reagents.events import AgentEvent
from reagents.policies.overflow import DropReason, Overflow, offer
from reagents.sources.base import Source

__all__ = ["MemorySource", "SourceClosedError", "SourceFullError"]

_log = logging.getLogger(__name__)

DropHandler = Callable[[AgentEvent, DropReason], None]


class SourceClosedError(ReagentsError, RuntimeError):
    """An event was published to a source that was already stopped."""


class SourceFullError(BufferOverflowError):
    """`MemorySource.publish_nowait` found the buffer full under ``error`` or ``block``."""

    def __init__(self, name: str, capacity: int, overflow: Overflow) -> None:
        super().__init__(capacity)
        hint = (
            "await publish(event) to wait for room"
            if overflow is Overflow.BLOCK
            else "raise the capacity or choose overflow='drop_oldest'/'drop_newest'"
        )
        self.args = (
            f"memory source {name!r} is full (capacity {capacity}, overflow={overflow.value!r})"
            f"; {hint}",
        )


class MemorySource(Source):
    """A bounded buffer of events published from code, drained in batches by a pipeline.

    Records are acked with `noop_ack`: once an event has left the buffer there is
    nothing to checkpoint. ``on_drop`` may be set after construction (a pipeline sets
    it to its dead-letter handler); without one, drops are logged at WARNING. Publish
    from the event loop's thread (from another thread, use
    ``loop.call_soon_threadsafe(source.publish_nowait, event)``).
    """

    pausable = False

    def __init__(
        self,
        name: str = "memory",
        capacity: int = 10_000,
        overflow: Overflow | str = Overflow.BLOCK,
        *,
        batch_size: int = 64,
        on_drop: DropHandler | None = None,
    ) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.name = name
        self.capacity = capacity
        self.overflow = Overflow(overflow)
        self.batch_size = batch_size
        self.on_drop = on_drop
        self._buffer: deque[AgentEvent] = deque()
        self._stopped = False
        self._has_data = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._published = 0

    @classmethod
    def from_events(cls, events: Iterable[AgentEvent], name: str = "memory") -> MemorySource:
        """A stopped source holding ``events``: it yields them, then ends."""
        items = list(events)
        source = cls(name=name, capacity=max(1, len(items)))
        for event in items:
            source.publish_nowait(event)
        source.stop()
        return source

    def __len__(self) -> int:
        """Events buffered and not yet handed to the pipeline."""
        return len(self._buffer)

    @property
    def stopped(self) -> bool:
        """True once `stop` (or `close`) was called: no more events are accepted."""
        return self._stopped

    def publish_nowait(self, event: AgentEvent) -> None:
        """Buffer ``event`` now, applying the overflow policy if the buffer is full.

        Raises:
            SourceClosedError: the source was stopped.
            SourceFullError: the buffer is full and the policy is ``error``, or
                ``block`` (which cannot wait here: use `publish`).
        """
        if self._stopped:
            raise SourceClosedError(f"memory source {self.name!r} is stopped; cannot publish")
        if self.overflow is Overflow.BLOCK and len(self._buffer) >= self.capacity:
            raise SourceFullError(self.name, self.capacity, self.overflow)
        dropped = offer(self._buffer, event, self.capacity, self.overflow)
        if self._buffer:
            self._has_data.set()
        if dropped is not None:
            if dropped[1] is DropReason.OVERFLOW:
                raise SourceFullError(self.name, self.capacity, self.overflow)
            self._drop(*dropped)

    async def publish(self, event: AgentEvent) -> None:
        """Buffer ``event``; under ``block`` wait for room, otherwise as `publish_nowait`.

        Raises:
            SourceClosedError: the source was stopped (also while waiting for room).
        """
        if self.overflow is Overflow.BLOCK:
            while not self._stopped and len(self._buffer) >= self.capacity:
                self._has_room.clear()
                await self._has_room.wait()
        self.publish_nowait(event)

    def stop(self) -> None:
        """Accept no more events; `batches` ends once the buffer is drained."""
        self._stopped = True
        self._has_data.set()
        self._has_room.set()

    async def close(self) -> None:
        """Same as `stop` (the pipeline calls it after the last batch)."""
        self.stop()

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        """Yield buffered events (at most ``batch_size`` a batch), waiting while empty."""
        buffer = self._buffer
        while True:
            if buffer:
                count = min(self.batch_size, len(buffer))
                batch = [self._incoming(buffer.popleft()) for _ in range(count)]
                self._has_room.set()
                yield batch
            elif self._stopped:
                return
            else:
                self._has_data.clear()
                await self._has_data.wait()

    def _incoming(self, event: AgentEvent) -> Incoming:
        self._published += 1
        return Incoming(item=event, origin=f"{self.name}#{self._published}")

    def _drop(self, event: AgentEvent, reason: DropReason) -> None:
        if self.on_drop is not None:
            self.on_drop(event, reason)
        else:
            _log.warning(
                "memory source %r dropped event %s (%s) and has no on_drop",
                self.name,
                event.event_id,
                reason.value,
            )
