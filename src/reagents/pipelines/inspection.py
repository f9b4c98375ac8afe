"""`PipelineInspection`: what a `Pipeline` shows of itself (agents, stats, state).

The read-only half of `Pipeline`, kept apart so the declaring and running half stays
short: properties and lookups over the pipeline's bus, sources, sinks and lifecycle.
"""

from __future__ import annotations

from reactivex import Observable

from reagents.events import AgentEvent
from reagents.pipelines.bus import Bus
from reagents.pipelines.lifecycle import Lifecycle
from reagents.pipelines.stats import StatsTable
from reagents.sinks.agent import Agent
from reagents.sinks.base import DeadLetterSink, Sink
from reagents.sources.base import Source

__all__ = ["PipelineInspection"]


class PipelineInspection:
    """Looking at a pipeline: its parts, its state, its counters (see `Pipeline`)."""

    name: str
    _bus: Bus
    _sources: list[Source]
    _sinks: dict[str, Sink]
    _lifecycle: Lifecycle

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
