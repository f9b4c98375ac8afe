"""`Pipeline`: sources → bus → each agent's subscription → agent → back onto the bus.

Declare sources, agents and sinks, then ``await pipeline.run()``. Each source record
is acknowledged once every agent and sink it reached — and every event derived from
it in-process — has handled or dead-lettered it; sources checkpoint only that. Sources
are pulled only while the deliveries in flight are under the high-water mark.
An agent never receives its own events through its subscription (only when they are
addressed to it in ``target_agents``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, Unpack

from reactivex import Observable

from reagents.dead_letter import FailureStage
from reagents.errors import (
    AgentRequestError,
    ConfigurationError,
    ReagentsError,
    RequestTimeoutError,
)
from reagents.events import AgentEvent, new_id
from reagents.pipelines.bus import Bus
from reagents.pipelines.graph import PipelineGraph, pipeline_graph
from reagents.pipelines.runner import ERROR_TYPE, AgentRunner
from reagents.pipelines.stats import StatsTable
from reagents.policies import Watermarks
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent, AgentOptions, Handler
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.file import JsonlDeadLetterLog
from reagents.sources.base import Source
from reagents.sources.memory import MemorySource

__all__ = ["Pipeline", "SourceFailedError"]

logger = logging.getLogger(__name__)

SourceT = TypeVar("SourceT", bound=Source)
AgentT = TypeVar("AgentT", bound=Agent)
SinkT = TypeVar("SinkT", bound=Sink)

DEFAULT_DEAD_LETTERS = Path("dead_letters.jsonl")


class SourceFailedError(ReagentsError, RuntimeError):
    """A source raised while being read; the pipeline stops and names it."""

    def __init__(self, source: str, error: BaseException) -> None:
        super().__init__(f"source {source!r} failed: {type(error).__name__}: {error}")
        self.source = source


def _sink_agent(sink: Sink) -> Agent:
    return Agent(sink.write, id=f"sink:{sink.name}", subscription=sink.subscription)


class Pipeline:
    """A set of sources, agents and sinks wired through one bus, run on asyncio."""

    def __init__(
        self,
        name: str = "pipeline",
        *,
        sources: Iterable[Source] = (),
        agents: Iterable[Agent] = (),
        sinks: Iterable[Sink] = (),
        dead_letters: DeadLetterSink | str | Path | None = None,
        schemas: PayloadSchemas | None = None,
        watermarks: Watermarks | None = None,
        max_depth: int = 32,
        drain_timeout: float = 30.0,
    ) -> None:
        if max_depth < 1:
            raise ConfigurationError(f"max_depth must be at least 1, got {max_depth}")
        self.name = name
        self.schemas = schemas
        self.watermarks = watermarks or Watermarks()
        self.max_depth = max_depth
        self.drain_timeout = drain_timeout
        letters = _dead_letter_sink(dead_letters)
        self._bus = Bus(name, letters, schemas, max_depth, self.watermarks)
        self.counters = self._bus.counters
        self.inbox = MemorySource(name="inbox", on_drop=self._bus.dropper("inbox"))
        self._sources: list[Source] = []
        self._sinks: dict[str, Sink] = {}
        self._stopping: asyncio.Event | None = None
        self._started = asyncio.Event()
        self._ended = asyncio.Event()
        self._running = False
        for source in sources:
            self.add_source(source)
        for agent in agents:
            self.add_agent(agent)
        for sink in sinks:
            self.add_sink(sink)

    # -- declaring -------------------------------------------------------------------

    def add_source(self, source: SourceT) -> SourceT:
        """Read events from ``source`` when the pipeline runs."""
        if self._running:
            raise ConfigurationError("sources must be added before the pipeline runs")
        if any(s.name == source.name for s in self._sources) or source.name == "inbox":
            raise ConfigurationError(
                f"pipeline {self.name!r} already has a source named "
                f"{source.name!r}; give each source its own name"
            )
        self._sources.append(source)
        return source

    def remove_source(self, name: str) -> Source:
        """Take the source called ``name`` out (a replay swaps a pipeline's own sources)."""
        if self._running:
            raise ConfigurationError("sources must be removed before the pipeline runs")
        for source in self._sources:
            if source.name == name:
                self._sources.remove(source)
                return source
        known = ", ".join(s.name for s in self._sources) or "none"
        raise ConfigurationError(
            f"pipeline {self.name!r} has no source {name!r} (sources: {known})"
        )

    def add_agent(self, agent: AgentT) -> AgentT:
        """Run ``agent`` on the events its subscription matches."""
        if agent.id in self._bus.agents:
            raise ConfigurationError(f"pipeline {self.name!r} already has an agent {agent.id!r}")
        runner = AgentRunner(agent, self._bus)
        self._bus.add_agent(runner)
        if self._running:
            runner.start()
        return agent

    def add_sink(self, sink: SinkT) -> SinkT:
        """Write the events ``sink.subscription`` matches to ``sink``."""
        if sink.name in self._sinks:
            raise ConfigurationError(f"pipeline {self.name!r} already has a sink {sink.name!r}")
        runner = AgentRunner(_sink_agent(sink), self._bus, stage=FailureStage.SINK)
        self._sinks[sink.name] = sink
        self._bus.add_sink(sink.name, runner)
        if self._running:
            runner.start()
        return sink

    def only(self, agent_ids: Sequence[str], name: str | None = None) -> Pipeline:
        """A new pipeline with these agents only, and the same sources, sinks and settings.

        Declare the whole system once and run a different subset in each process (with
        Kafka sources in consumer groups), so agents scale independently. The agents
        must not share in-process state across the split.
        """
        chosen = [self.get_agent(agent_id) for agent_id in agent_ids]  # KeyError names it
        return Pipeline(
            name or f"{self.name}[{','.join(agent_ids)}]",
            sources=self._sources,
            agents=chosen,
            sinks=self._sinks.values(),
            dead_letters=self.dead_letter_sink,
            schemas=self.schemas,
            watermarks=self.watermarks,
            max_depth=self.max_depth,
            drain_timeout=self.drain_timeout,
        )

    def agent(
        self, id: str | None = None, **options: Unpack[AgentOptions]
    ) -> Callable[[Handler], Agent]:
        """Decorator: turn a (sync or async) function into an agent of this pipeline.

        ``options`` are `Agent`'s: subscription, max_concurrent, priority, retry, rate,
        timeout, input_schema, output_schema, capability.
        """

        def register(handler: Handler) -> Agent:
            return self.add_agent(Agent(handler, id=id, **options))

        return register

    # -- looking -------------------------------------------------------------------------

    @property
    def sources(self) -> list[Source]:
        """The declared sources (without the inbox)."""
        return list(self._sources)

    @property
    def agents(self) -> list[Agent]:
        """The declared agents, in registration order."""
        return [runner.agent for runner in self._bus.agents.values()]

    @property
    def sinks(self) -> list[Sink]:
        """The declared sinks."""
        return list(self._sinks.values())

    def get_agent(self, agent_id: str) -> Agent:
        """The agent registered as ``agent_id``."""
        try:
            return self._bus.agents[agent_id].agent
        except KeyError:
            known = ", ".join(self._bus.agents) or "none"
            message = f"pipeline {self.name!r} has no agent {agent_id!r} (agents: {known})"
            raise KeyError(message) from None

    @property
    def events(self) -> Observable[AgentEvent]:
        """Every event routed on the bus, as a hot Rx observable (subscribe before `run`)."""
        return self._bus.tap

    @property
    def in_flight(self) -> int:
        """Deliveries to agents and sinks not yet handled or dead-lettered."""
        return self._bus.flow.in_flight

    @property
    def dead_letter_sink(self) -> DeadLetterSink:
        """Where this pipeline's dead letters go."""
        return self._bus.dead_letters

    def stats(self) -> StatsTable:
        """Per-agent and per-sink counters now (a table in text and in Jupyter)."""
        table = StatsTable()
        for runner in self._bus.runners():
            table[runner.id] = runner.snapshot()
        return table

    def graph(self) -> PipelineGraph:
        """The operator graph: sources, bus, subscriptions, agents, sinks, dead letters."""
        return pipeline_graph(self)

    def _repr_svg_(self) -> str:
        """Jupyter shows a pipeline as its operator graph."""
        return self.graph().to_svg()

    def subscriptions_index(self) -> dict[str, list[str]]:
        """How agents are indexed: event type, ``prefix*`` or ``*`` → agent ids."""
        return {
            key: [runner.id for runner in runners]
            for key, runners in self._bus.agent_router.index().items()
        }

    def __repr__(self) -> str:
        return (
            f"<Pipeline {self.name!r} sources={[s.name for s in self._sources]} "
            f"agents={list(self._bus.agents)} sinks={list(self._sinks)}>"
        )

    # -- publishing ------------------------------------------------------------------

    def publish(self, event: AgentEvent) -> None:
        """Put ``event`` on the bus from code (through the pipeline's inbox)."""
        self.inbox.publish_nowait(event)

    async def publish_async(self, event: AgentEvent) -> None:
        """Like `publish`, but waits for room when the inbox is full."""
        await self.inbox.publish(event)

    async def request(
        self,
        agent_id: str,
        payload: dict[str, Any] | None = None,
        *,
        event_type: str = "request",
        timeout: float = 30.0,
        priority: int = 5,
        correlation_id: str | None = None,
    ) -> AgentEvent:
        """Send ``payload`` to one agent and return its first reaction to it.

        The request is an event addressed to ``agent_id``; the answer is the first event
        that agent emits in reaction (``causation_id`` = the request), so concurrent
        requests never mix up their answers. Raises `AgentRequestError` if the agent
        answered ``agent_error`` (it failed or rejected the input) and
        `RequestTimeoutError` after ``timeout`` seconds. The pipeline must be running.
        """
        if not self._running:
            raise RuntimeError(f"pipeline {self.name!r} must be running to send requests")
        request = AgentEvent(
            event_type=event_type,
            source_agent=f"pipeline:{self.name}",
            target_agents=(agent_id,),
            payload=payload or {},
            priority=priority,
            correlation_id=correlation_id or new_id(),
        )
        answer = self._bus.expect_answer(request, agent_id)
        try:
            await self.publish_async(request)
            response = await asyncio.wait_for(answer, timeout)
        except TimeoutError:
            raise RequestTimeoutError(
                f"agent {agent_id!r} did not answer {event_type!r} within {timeout}s"
            ) from None
        finally:
            self._bus.forget_answer(request)
        if response.event_type == ERROR_TYPE:
            detail = response.payload
            raise AgentRequestError(
                f"agent {agent_id!r} could not handle {event_type!r}: "
                f"{detail.get('error_type')}: {detail.get('message')}",
                response,
            )
        return response

    # -- running ---------------------------------------------------------------------

    async def run(self, *, forever: bool = False) -> None:
        """Run until every source is exhausted and all work has drained, or until `stop`.

        With ``forever=True`` (a service) it keeps running after the sources end, for
        events published from code, until `stop` is called. Cancelling the task that
        runs it stops at once: unfinished records stay unacknowledged, so a source
        with checkpoints delivers them again on the next run.
        """
        if self._running:
            raise RuntimeError(f"pipeline {self.name!r} is already running")
        self._running = True
        self._ended.clear()
        self._bus.reset_flow(self.watermarks)
        self._stopping = asyncio.Event()
        runners = self._bus.runners()
        for runner in runners:
            runner.start()
        self._started.set()
        pumps = {
            asyncio.create_task(self._pump(s), name=f"reagents:{s.name}"): s for s in self._sources
        }
        inbox_pump = asyncio.create_task(self._pump(self.inbox), name="reagents:inbox")
        try:
            await self._until_finished(pumps, inbox_pump, forever)
            await self._drain()
        finally:
            self._started.clear()
            await self._shutdown([*pumps, inbox_pump], runners)

    async def wait_started(self) -> None:
        """Return once `run` has started the agents (requests can be sent from then on)."""
        await self._started.wait()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Pipeline]:
        """Run the pipeline as a service for the duration of an ``async with`` block.

        On entry it is started (``run(forever=True)``) and ready for `request` and
        `publish`; on exit it stops and drains. An error of the pipeline itself is
        raised when the block ends.
        """
        task = asyncio.create_task(self.run(forever=True), name=f"reagents:{self.name}")
        started = asyncio.create_task(self.wait_started())
        await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        if task.done():
            await task  # it failed while starting: raise why
        try:
            yield self
        finally:
            self.request_stop()
            await task

    def request_stop(self) -> None:
        """Ask a running pipeline to stop reading and drain (returns at once)."""
        if self._stopping is not None:
            self._stopping.set()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading sources, let in-flight work finish (up to ``timeout``), then end.

        Do not await this from inside an agent of the same pipeline (its own event
        would wait for itself): call `request_stop` there.
        """
        if timeout is not None:
            self.drain_timeout = timeout
        self.request_stop()
        if self._running:
            await self._ended.wait()

    async def _until_finished(
        self,
        pumps: dict[asyncio.Task[None], Source],
        inbox_pump: asyncio.Task[None],
        forever: bool,
    ) -> None:
        assert self._stopping is not None
        flow = self._bus.flow
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
            while forever or not self._idle():
                waiter = asyncio.create_task(flow.wait_idle())
                done, _ = await asyncio.wait(
                    {waiter, stop_requested, inbox_pump}, return_when=asyncio.FIRST_COMPLETED
                )
                waiter.cancel()
                if inbox_pump in done and inbox_pump.exception() is not None:
                    raise inbox_pump.exception()  # type: ignore[misc]
                if stop_requested in done:
                    return
                await asyncio.sleep(0)
        finally:
            stop_requested.cancel()

    def _idle(self) -> bool:
        return self._bus.flow.idle and len(self.inbox) == 0

    async def _drain(self) -> None:
        flow = self._bus.flow
        if flow.idle:
            return
        try:
            await asyncio.wait_for(flow.wait_idle(), self.drain_timeout)
        except TimeoutError:
            logger.warning(
                "pipeline %s: %d deliveries still in flight after %.1fs; stopping without "
                "acknowledging them (they will be delivered again)",
                self.name,
                flow.in_flight,
                self.drain_timeout,
            )

    async def _shutdown(self, pumps: list[asyncio.Task[None]], runners: list[AgentRunner]) -> None:
        try:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for runner in runners:
                await runner.stop()
            for source in [*self._sources, self.inbox]:
                try:
                    await source.close()
                except Exception:
                    logger.exception(
                        "pipeline %s: closing source %s failed", self.name, source.name
                    )
            for sink in self._sinks.values():
                try:
                    await sink.close()
                except Exception:
                    logger.exception("pipeline %s: closing sink %s failed", self.name, sink.name)
            await self._bus.dead_letters.aclose()
        finally:
            self._running = False
            self._ended.set()

    async def _pump(self, source: Source) -> None:
        bus = self._bus
        try:
            async for batch in source.batches():
                bus.ingest(batch)
                flow = bus.flow
                if flow.has_room:
                    await asyncio.sleep(0)  # let agents, timers and stop() run between batches
                else:
                    await flow.wait_for_room()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            raise SourceFailedError(source.name, error) from error


def _dead_letter_sink(value: DeadLetterSink | str | Path | None) -> DeadLetterSink:
    if isinstance(value, DeadLetterSink):
        return value
    return JsonlDeadLetterLog(Path(value) if value is not None else DEFAULT_DEAD_LETTERS)
