"""`Pipeline`: sources → bus → each agent's subscription → agent → back onto the bus.

Declare sources, agents and sinks, then ``await pipeline.run()``. Each source record
is acknowledged once every agent and sink it reached — and every event derived from
it in-process — has handled or dead-lettered it; sources checkpoint only that. Sources
are pulled only while the deliveries in flight are under the high-water mark.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, Unpack

from reactivex import Observable

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.pipelines.bus import Bus
from reagents.pipelines.lifecycle import Lifecycle, SourceFailedError
from reagents.pipelines.requests import bind_agents, send_request
from reagents.pipelines.stats import StatsTable
from reagents.policies import Watermarks
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent, AgentOptions
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sinks.file import dead_letter_log
from reagents.sinks.outputs import HandlerResult
from reagents.sources.base import Source
from reagents.sources.memory import MemorySource

__all__ = ["Pipeline", "SourceFailedError"]

SourceT = TypeVar("SourceT", bound=Source)
AgentT = TypeVar("AgentT", bound=Agent[Any])
SinkT = TypeVar("SinkT", bound=Sink)
T = TypeVar("T")


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
        letters = dead_letter_log(dead_letters)
        self._bus = Bus(name, letters, schemas, max_depth, self.watermarks)
        self.counters = self._bus.counters
        self.inbox = MemorySource(name="inbox", on_drop=self._bus.dropper("inbox"))
        self._sources: list[Source] = []
        self._sinks: dict[str, Sink] = {}
        self._lifecycle = Lifecycle(name, self._bus, self.inbox, self.watermarks)
        for source in sources:
            self.add_source(source)
        for agent in agents:
            self.add_agent(agent)
        for sink in sinks:
            self.add_sink(sink)

    # -- declaring -------------------------------------------------------------------

    def add_source(self, source: SourceT) -> SourceT:
        """Read events from ``source`` when the pipeline runs."""
        if self._lifecycle.running:
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
        if self._lifecycle.running:
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
        bind_agents(self, [agent] if self._lifecycle.running else [])  # before routing to it
        runner = self._bus.add_agent(agent)
        if self._lifecycle.running:
            runner.start()
        return agent

    def add_sink(self, sink: SinkT) -> SinkT:
        """Write the events ``sink.subscription`` matches to ``sink``."""
        if sink.name in self._sinks:
            raise ConfigurationError(f"pipeline {self.name!r} already has a sink {sink.name!r}")
        self._sinks[sink.name] = sink
        runner = self._bus.add_sink(sink)
        if self._lifecycle.running:
            runner.start()
        return sink

    def only(self, agent_ids: Sequence[str], name: str | None = None) -> Pipeline:
        """A new pipeline with these agents only, and the same sources, sinks and settings.

        Declare the whole system once and run a subset in each process (Kafka sources in
        consumer groups), so agents scale apart; they must not share in-process state.
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
    ) -> Callable[[Callable[[T], HandlerResult]], Agent[T]]:
        """Decorator: turn a (sync or async) function into an agent of this pipeline.

        ``options`` are `Agent`'s (subscription, flow, max_concurrent, retry, rate...).
        """

        def register(handler: Callable[[T], HandlerResult]) -> Agent[T]:
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
        """Every routed event, hot; a subscriber that raises is logged and counted."""
        return self._bus.tap

    @property
    def running(self) -> bool:
        """True from `run`'s start until it has stopped."""
        return self._lifecycle.running

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
        return self._bus.stats()

    def subscriptions_index(self) -> dict[str, list[str]]:
        """How agents are indexed: event type, ``prefix*`` or ``*`` → agent ids."""
        return self._bus.subscriptions_index()

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
        """Send ``payload`` to one agent and return its first reaction to it (by causation).

        Raises `AgentRequestError` if the agent answered ``agent_error``, and
        `RequestTimeoutError` after ``timeout`` seconds. The pipeline must be running.
        """
        if not self._lifecycle.running:
            raise RuntimeError(f"pipeline {self.name!r} must be running to send requests")
        return await send_request(
            self._bus,
            self.publish_async,
            agent_id,
            payload or {},
            sender=f"pipeline:{self.name}",
            event_type=event_type,
            timeout=timeout,
            priority=priority,
            correlation_id=correlation_id,
        )

    # -- running ---------------------------------------------------------------------

    async def run(self, *, forever: bool = False) -> None:
        """Run until every source is exhausted and all work has drained, or until `stop`.

        ``forever=True`` (a service) keeps running after the sources end, until `stop`.
        Cancelling the task stops at once: unfinished records stay unacknowledged.
        """
        bind_agents(self, self.agents)  # agents that send requests: LLM agent tools
        await self._lifecycle.run(
            self._sources, self._sinks.values(), forever=forever, drain_timeout=self.drain_timeout
        )

    async def wait_started(self) -> None:
        """Return once `run` has started the agents (requests can be sent from then on)."""
        await self._lifecycle.wait_started()

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Pipeline]:
        """Run the pipeline as a service for the duration of an ``async with`` block.

        On entry it is started (``run(forever=True)``) and ready for `request` and
        `publish`; on exit it stops and drains. An error of the pipeline itself is
        raised when the block ends.
        """
        async with self._lifecycle.serving(self.run(forever=True)):
            yield self

    async def wait_idle(self) -> None:
        """Return once nothing is in flight and nothing waits in the inbox (no flush)."""
        await self._lifecycle.wait_idle()

    def request_stop(self) -> None:
        """Ask a running pipeline to stop reading and drain (returns at once)."""
        self._lifecycle.request_stop()

    async def stop(self, timeout: float | None = None) -> None:
        """Stop reading sources, let in-flight work finish (up to ``timeout``), then end.

        Do not await this from inside an agent of the same pipeline (its own event
        would wait for itself): call `request_stop` there.
        """
        if timeout is not None:
            self.drain_timeout = timeout
        await self._lifecycle.stop(timeout)
