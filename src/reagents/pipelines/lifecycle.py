"""`Lifecycle`: run a pipeline's sources through its bus, drain, stop and shut down.

`Pipeline` declares; this runs. One pump per source pulls batches while the bus has
room (`FlowControl`'s watermarks); the agents' runners work on what was routed; on
`stop` (Ctrl-C in the CLI) the sources' pumps end at once, so not one more record is
read, in-flight work drains (up to a timeout), and every source (which checkpoints
what was acknowledged), sink and dead-letter sink is closed. Cancelling `run` stops at once and
leaves unfinished records unacknowledged (a checkpointing source delivers them again).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine, Iterable, Sequence
from typing import Any

from reagents.errors import ReagentsError
from reagents.pipelines.bus import Bus
from reagents.pipelines.runner import AgentRunner
from reagents.pipelines.settling import WorkInFlight
from reagents.policies import Watermarks
from reagents.sinks.base import Sink
from reagents.sources.base import Source
from reagents.sources.memory import MemorySource

__all__ = ["Lifecycle", "SourceFailedError"]

logger = logging.getLogger(__name__)

_STALL_CHECK = 0.02  # seconds between looks for flows that wait on a paused source


class SourceFailedError(ReagentsError, RuntimeError):
    """A source raised while being read; the pipeline stops and names it."""

    def __init__(self, source: str, error: BaseException) -> None:
        super().__init__(f"source {source!r} failed: {type(error).__name__}: {error}")
        self.source = source


class Lifecycle:
    """The running state of one pipeline: started, stopping, ended."""

    def __init__(self, name: str, bus: Bus, inbox: MemorySource, watermarks: Watermarks) -> None:
        self.name = name
        self.watermarks = watermarks
        self.inbox = inbox
        self._bus = bus
        self._work = WorkInFlight(name, bus, inbox)
        self._drain_timeout = 30.0
        self._over_committed = False
        self._stopping: asyncio.Event | None = None
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self.running = False

    async def run(
        self,
        sources: Iterable[Source],
        sinks: Iterable[Sink],
        *,
        forever: bool,
        drain_timeout: float,
    ) -> None:
        """Run ``sources`` through the bus until they end and work drains, or `stop`."""
        if self.running:
            raise RuntimeError(f"pipeline {self.name!r} is already running")
        self.running = True
        sources, sinks = list(sources), list(sinks)
        self._drain_timeout = drain_timeout
        self._ended.clear()
        self._bus.reset_flow(self.watermarks)
        self._stopping = asyncio.Event()
        runners = self._bus.runners()
        for runner in runners:
            runner.start()
        for source in sources:
            source.flows_wait = self._work.only_flows_hold
            source.routing = self._bus
        self._started.set()
        pumps = {asyncio.create_task(self._pump(s), name=f"reagents:{s.name}"): s for s in sources}
        inbox_pump = asyncio.create_task(self._pump(self.inbox), name="reagents:inbox")
        try:
            await self._until_finished(pumps, inbox_pump, forever)
            await _cancel(pumps)  # stop reading; the inbox still takes what code publishes
            await self._work.drain(self._drain_timeout)
        finally:
            self._started.clear()
            await self._shutdown([*pumps, inbox_pump], runners, sources, sinks)

    @contextlib.asynccontextmanager
    async def serving(self, run: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
        """Run ``run`` (the pipeline's ``run(forever=True)``) for an ``async with`` block.

        The block starts once it serves (an error while starting is raised here); on
        exit the run is asked to stop, and awaited, so its own error is raised then.
        """
        task = asyncio.create_task(run, name=f"reagents:{self.name}")
        started = asyncio.create_task(self.wait_started())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():
            await task
        try:
            yield
        finally:
            self.request_stop()
            await task

    async def wait_idle(self) -> None:
        """Return once nothing is in flight and the inbox is empty."""
        await self._work.wait_idle()

    async def wait_started(self) -> None:
        """Return once `run` has started the agents."""
        await self._started.wait()

    def request_stop(self) -> None:
        """Ask the run to stop reading and drain (returns at once)."""
        if self._stopping is not None:
            self._stopping.set()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading, drain for up to ``timeout`` seconds, and wait for the end."""
        if timeout is not None:
            self._drain_timeout = timeout
        self.request_stop()
        if self.running:
            await self._ended.wait()

    async def _until_finished(
        self,
        pumps: dict[asyncio.Task[None], Source],
        inbox_pump: asyncio.Task[None],
        forever: bool,
    ) -> None:
        assert self._stopping is not None
        stop_requested = asyncio.create_task(self._stopping.wait())
        try:
            pending: set[asyncio.Task[Any]] = {*pumps, inbox_pump, stop_requested}
            while pending - {inbox_pump, stop_requested}:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task is not stop_requested and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                if stop_requested in done:
                    return
            # The sources are done: a service waits for stop; a run for its work to settle.
            waiter = asyncio.create_task(
                asyncio.Event().wait() if forever else self._work.settle(self._drain_timeout)
            )
            try:
                done, _ = await asyncio.wait(
                    {waiter, stop_requested, inbox_pump}, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                waiter.cancel()
            if inbox_pump in done and inbox_pump.exception() is not None:
                raise inbox_pump.exception()  # type: ignore[misc]
        finally:
            stop_requested.cancel()

    async def _shutdown(
        self,
        pumps: list[asyncio.Task[None]],
        runners: list[AgentRunner],
        sources: Sequence[Source],
        sinks: Sequence[Sink],
    ) -> None:
        try:
            await _cancel(pumps)
            for runner in {id(r): r for r in [*runners, *self._bus.runners()]}.values():
                await runner.stop()  # those added and removed while it ran too
            for source in [*sources, self.inbox]:
                try:
                    await source.close()
                except Exception:
                    logger.exception(
                        "pipeline %s: closing source %s failed", self.name, source.name
                    )
            for sink in sinks:
                try:
                    await sink.close()
                except Exception:
                    logger.exception("pipeline %s: closing sink %s failed", self.name, sink.name)
            await self._bus.dead_letters.aclose()
        finally:
            for source in sources:
                source.flows_wait = None
                source.routing = None
            self.running = False
            self._ended.set()

    async def _wait_for_room(self) -> None:
        """Wait until the in-flight count is down to the low watermark.

        Unless only flows hold the work in flight (every runner idle): their windows
        wait for more input (event time, a count) that a paused source would never
        bring, so reading goes on, and the flows' own windows bound what is held.
        """
        flow, runners = self._bus.flow, self._bus.runners()
        if not any(r.flow is not None for r in runners):
            await flow.wait_for_room()
            return
        while not flow.has_room:
            if all(r.idle for r in runners):
                if not self._over_committed:
                    self._over_committed = True
                    logger.warning(
                        "pipeline %s: agents' flows hold %d events (watermarks %d/%d) and "
                        "wait for more input: reading on; raise the watermarks above what "
                        "the windows hold to keep within them",
                        *(self.name, flow.in_flight, self.watermarks.high, self.watermarks.low),
                    )
                return
            # A look every few ms, not a wake-up per release: pausing stays cheap.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flow.wait_for_room(), _STALL_CHECK)

    async def _pump(self, source: Source) -> None:
        bus = self._bus
        source.state = "reading"
        try:
            async for batch in source.batches():
                bus.ingest(batch)
                if bus.flow.has_room:
                    await asyncio.sleep(0)  # let agents, timers and stop() run between batches
                else:
                    await self._wait_for_room()
        except asyncio.CancelledError:
            source.state = "stopped"
            raise
        except Exception as error:
            source.state = f"failed: {type(error).__name__}: {error}"
            raise SourceFailedError(source.name, error) from error
        source.state = "ended"


async def _cancel(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait until they ended (their errors are not wanted now)."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
