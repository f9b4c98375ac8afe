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

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.pipelines.bus import Bus
from reagents.pipelines.handling import HandlingObserver
from reagents.pipelines.inspection import PipelineInspection
from reagents.pipelines.lifecycle import Lifecycle, SourceFailedError
from reagents.pipelines.removal import retire
from reagents.pipelines.requests import bind_agents, send_request
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


class Pipeline(PipelineInspection):
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
        validate_all: bool = False,
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
        self._bus.validate_all = validate_all  # decode every record, wanted or not
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
        if agent.id in self._bus.agents or agent.id in self._bus.retiring:
            raise ConfigurationError(f"pipeline {self.name!r} already has an agent {agent.id!r}")
        bind_agents(self, [agent] if self._lifecycle.running else [])  # before routing to it
        runner = self._bus.add_agent(agent)
        if self._lifecycle.running:
            runner.start()
        return agent

    async def remove_agent(self, agent_id: str) -> Agent:
        """Take the agent ``agent_id`` out; return it once its work is done.

        No new event reaches it from now on (events addressed to it then are routing
        dead letters, unless a sink carries them elsewhere). In a running pipeline the
        events already queued for it, in its handlers or waiting for a retry are
        handled or dead-lettered as usual (a flow's open windows are flushed), so each
        source record is acknowledged exactly as before; then it is forgotten (stats
        included). If this wait is cancelled the agent still finishes its work.
        """
        if agent_id not in self._bus.agents and agent_id not in self._bus.retiring:
            self.get_agent(agent_id)  # KeyError naming the agents it has
        return await retire(self._bus, agent_id)

    def add_sink(self, sink: SinkT) -> SinkT:
        """Write the events ``sink.subscription`` matches to ``sink``."""
        if sink.name in self._sinks:
            raise ConfigurationError(f"pipeline {self.name!r} already has a sink {sink.name!r}")
        self._sinks[sink.name] = sink
        runner = self._bus.add_sink(sink)
        if self._lifecycle.running:
            runner.start()
        return sink

    def observe(self, observer: HandlingObserver | None) -> None:
        """Tell ``observer`` of every handling by its agents and sinks, from now on (None:
        no more); ``reagents.otel.instrument`` installs a tracing one."""
        self._bus.observe(observer)

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
