"""The `Source` contract: an async stream of record batches, each record with an ack.

Sources are pulled: the pipeline asks for the next batch only while it has room,
which is how a pausable source is paused (a file stops reading; Kafka stops polling
once a poll's worth waits). A source checkpoints only what was acked, in source order, and may also
pause itself at a window of records handed out but not acknowledged (the bound of
what a crash re-delivers); ``flows_wait`` tells it when waiting would be for ever.

A source is an async context manager: ``async with FileSource(path) as source:``
closes it on the way out. A pipeline also closes its sources when it stops; closing
twice is harmless.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Sequence
from types import TracebackType
from typing import Protocol, Self

import reactivex
from reactivex import Observable, abc
from reactivex.disposable import Disposable

from reagents.delivery import Incoming
from reagents.events import AgentEvent, EventRoute, decode_event

__all__ = ["Routing", "Source", "Wants"]

Wants = Callable[[EventRoute], bool]
"""`Routing.wants`: whether an event of this route may be wanted."""


class Routing(Protocol):
    """What a running pipeline tells its sources about the events it wants."""

    @property
    def selective(self) -> bool:
        """False while every event is wanted: then reading routes first is no use."""

    def wants(self, route: EventRoute) -> bool:
        """Whether an event of ``route`` may be wanted; a record refused may be acked
        without decoding it (the pipeline counts it as ingested)."""


class Source(ABC):
    """Something that produces events, in batches, until it is exhausted or closed."""

    name: str = "source"
    pausable: bool = True
    """False for push sources that cannot wait (they buffer with an overflow policy)."""
    flows_wait: Callable[[], bool] | None = None
    """Set by a running pipeline: True while every record in flight is held by agents'
    flows that wait for more input (every agent idle). A source paused at its own
    window then reads on, since the acks it waits for come only after more input."""
    routing: Routing | None = None
    """Set by a running pipeline: a source that can read an encoded record's route
    cheaply (`read_route`) acks the records it refuses without decoding them."""
    state: str = "idle"
    """Set by a running pipeline: ``reading``, ``ended`` (exhausted), ``stopped`` or
    ``failed: <error>`` (what a readiness probe reports)."""

    @abstractmethod
    def batches(self) -> AsyncIterator[Sequence[Incoming]]:
        """Yield batches of records; return when the source is exhausted."""

    def wanted(self, decode: Callable[[bytes], AgentEvent]) -> Wants | None:
        """`Routing.wants` while the running pipeline is selective and records are read
        with `decode_event` (reagents' wire form, which `read_route` reads); else None:
        decode every record."""
        routing = self.routing
        if routing is None or decode is not decode_event or not routing.selective:
            return None
        return routing.wants

    async def close(self) -> None:  # noqa: B027  (optional hook)
        """Commit checkpoints and release resources (after the last batch).

        A pipeline calls it when it stops; a source closed already ignores the call.
        """

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

    def observe(self) -> Observable[AgentEvent]:
        """The source as an Rx observable of events, acking each one as it is emitted.

        Decode failures are skipped here (acked, logged at WARNING by the source);
        run the source in a `Pipeline` to dead-letter them. Needs a running asyncio loop.
        """

        def subscribe(
            observer: abc.ObserverBase[AgentEvent], scheduler: abc.SchedulerBase | None = None
        ) -> abc.DisposableBase:
            async def pump() -> None:
                try:
                    async for batch in self.batches():
                        for incoming in batch:
                            if isinstance(incoming.item, AgentEvent):
                                observer.on_next(incoming.item)
                            incoming.ack()
                    await self.close()
                except Exception as error:  # delivered to the observer, not lost
                    observer.on_error(error)
                else:
                    observer.on_completed()

            task = asyncio.get_running_loop().create_task(pump())

            def cancel() -> None:
                task.cancel()

            return Disposable(cancel)

        return reactivex.create(subscribe)
