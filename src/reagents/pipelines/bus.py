"""`Bus`: routes events to agents and sinks and accounts for every delivery.

It takes records from sources (`ingest`) and reactions from agents (`emit`), finds
their subscribers through the indexed routers, queues one `Delivery` per subscriber,
and acknowledges the source record when the last delivery derived from it finished
or was dead-lettered. It is the `RunnerHost` of every agent runner.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Ack, Incoming
from reagents.errors import ConfigurationError, PayloadValidationError
from reagents.events import AgentEvent, EventRoute
from reagents.pipelines.answers import Answers
from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.failures import overflow_letter, runaway_letter
from reagents.pipelines.flow_control import FlowControl
from reagents.pipelines.handling import HandlingObserver
from reagents.pipelines.router import Router
from reagents.pipelines.runner import AgentRunner
from reagents.pipelines.side_route import SideRoute
from reagents.pipelines.stats import BusCounters, StatsTable, count_filter_error
from reagents.pipelines.tap import EventTap
from reagents.policies import Watermarks
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent
from reagents.sinks.base import DeadLetterSink, Sink

__all__ = ["Bus"]

logger = logging.getLogger(__name__)


class Bus:
    """The routing core of a pipeline: subscriptions, deliveries, acks, dead letters.

    An agent never receives its own events through its subscription, only when they
    are addressed to it in ``target_agents``: the commonest accidental loop, cut here.
    """

    def __init__(
        self,
        name: str,
        dead_letters: DeadLetterSink,
        schemas: PayloadSchemas | None,
        max_depth: int,
        watermarks: Watermarks,
    ) -> None:
        self.name = name
        self.dead_letters = dead_letters
        self.schemas = schemas
        self.max_depth = max_depth
        self.validate_all = False  # True: sources decode every record, wanted or not
        self.tap = EventTap(name)
        self.counters = BusCounters(self.tap)
        self.flow = FlowControl(watermarks)
        self.agents: dict[str, AgentRunner] = {}
        self.retiring: dict[str, AgentRunner] = {}  # removed, finishing their work
        self.sinks: dict[str, AgentRunner] = {}
        self.agent_router: Router[AgentRunner | SideRoute] = Router(count_filter_error)
        self.sink_router: Router[AgentRunner] = Router(count_filter_error)
        self.observer: HandlingObserver | None = None
        self._answers = Answers()

    # -- wiring ----------------------------------------------------------------------

    def add_agent(self, agent: Agent) -> AgentRunner:
        """Route the events ``agent`` subscribes to (or is addressed) to a new runner."""
        runner = AgentRunner(agent, self)
        runner.observer = self.observer
        if runner.flow is not None:
            self._check_hold(agent.id, runner.flow.hold)
            for side in runner.flow.sides:
                self.agent_router.add(SideRoute(runner, side), side.subscription, agent.rank)
        self.agents[agent.id] = runner
        self.agent_router.add(runner, agent.filter, agent.rank)
        return runner

    def retire_agent(self, agent_id: str) -> AgentRunner:
        """Route nothing more to ``agent_id`` (its queued work goes on); its runner."""
        runner = self.agents.pop(agent_id)
        self.agent_router.remove(lambda route: route.agent is runner.agent)
        self.retiring[agent_id] = runner
        return runner

    def forget_agent(self, agent_id: str) -> None:
        """A retired agent is done: drop its runner (and its stats)."""
        self.retiring.pop(agent_id, None)

    def _check_hold(self, agent_id: str, hold: int) -> None:
        marks = self.flow.marks
        if hold > marks.low:
            raise ConfigurationError(
                f"agent {agent_id!r}: its flow may hold {hold} events waiting for more "
                f"input, but sources pause at {marks.high} in flight and resume only at "
                f"{marks.low} (Watermarks), so it could wait forever: give the batch a time "
                "limit (within=...), use a smaller count or max_keys, or raise the watermarks"
            )

    def add_sink(self, sink: Sink) -> AgentRunner:
        """Route every event ``sink``'s subscription matches to a new runner writing it."""
        writer = Agent(sink.write, id=f"sink:{sink.name}", subscription=sink.subscription)
        runner = AgentRunner(writer, self, stage=FailureStage.SINK)
        runner.observer = self.observer
        self.sinks[sink.name] = runner
        self.sink_router.add(runner, writer.filter)
        return runner

    def observe(self, observer: HandlingObserver | None) -> None:
        """Tell ``observer`` of every handling by every runner, now and later ones."""
        self.observer = observer
        for runner in self.runners():
            runner.observer = observer

    def runners(self) -> list[AgentRunner]:
        """Every agent runner (retiring ones too), then every sink runner."""
        return [*self.agents.values(), *self.retiring.values(), *self.sinks.values()]

    def stats(self) -> StatsTable:
        """Every runner's counters now."""
        table = StatsTable()
        for runner in self.runners():
            table[runner.id] = runner.snapshot()
            table.latency[runner.id] = runner.stats.latency.total.digest().buckets()
        return table

    def subscriptions_index(self) -> dict[str, list[str]]:
        """How agents are indexed: event type, ``prefix*`` or ``*`` → agent ids."""
        return {key: [r.id for r in runners] for key, runners in self.agent_router.index().items()}

    def reset_flow(self, watermarks: Watermarks) -> None:
        """Start a run with fresh in-flight accounting."""
        self.flow = FlowControl(watermarks)

    # -- answers to requests -----------------------------------------------------------

    def expect_answer(self, request: AgentEvent, agent_id: str) -> asyncio.Future[AgentEvent]:
        """A future resolved with ``agent_id``'s first reaction to ``request``."""
        return self._answers.expect(request, agent_id)

    def forget_answer(self, request: AgentEvent) -> None:
        """Stop waiting for an answer to ``request``."""
        self._answers.forget(request)

    # -- routing -----------------------------------------------------------------------

    @property
    def selective(self) -> bool:
        """False while every event is wanted: a subscriber of every type, a tap, an
        answer awaited, or ``validate_all`` (sources then decode every record without
        reading its route)."""
        return not (
            self.validate_all
            or self.tap.observers
            or self._answers.waiting
            or self.agent_router.accepts_any
            or self.sink_router.accepts_any
        )

    def wants(self, route: EventRoute) -> bool:
        """Whether an agent, sink or payload schema may want an event of ``route``.

        A source asks only while `selective` (it looks once per batch: nothing that
        changes it runs while a batch is handed out) and acks a record this refuses
        without decoding it (counted as ingested): nothing would have been done with it
        but an ack.
        """
        event_type = route["event_type"]
        if (
            route.get("target_agents")
            or self.agent_router.candidates(event_type)
            or self.sink_router.candidates(event_type)
            or (self.schemas is not None and event_type in self.schemas)
        ):
            return True
        self.counters.ingested += 1
        return False

    def ingest(self, batch: Sequence[Incoming]) -> None:
        """Route a batch of source records; ack at once those nothing subscribes to."""
        self.counters.ingested += len(batch)
        match, deliver, schemas, tap = self._match, self._deliver, self.schemas, self.tap
        for incoming in batch:
            item = incoming.item
            if not isinstance(item, AgentEvent):  # a dead letter made by the source
                self.dead_letter(item)
                incoming.ack()
                continue
            if schemas is not None and not self._valid(incoming, item, schemas):
                continue
            targets = match(item)
            if targets:  # at the depth it was written at, if another process made it
                deliver(item, targets, Ack(incoming.ack, holders=0), incoming.depth)
            else:
                incoming.ack()
            if tap.observers:
                tap.on_next(item)

    def _valid(self, incoming: Incoming, event: AgentEvent, schemas: PayloadSchemas) -> bool:
        try:
            schemas.validate(event)
        except PayloadValidationError as error:
            origin = incoming.origin or None
            self.dead_letter(
                DeadLetter.from_error(FailureStage.VALIDATION, error, event=event, origin=origin)
            )
            incoming.ack()
            return False
        return True

    def _match(self, event: AgentEvent) -> list[AgentRunner | SideRoute]:
        if self._answers.waiting:
            self._answers.offer(event)
        if event.target_agents:
            return self._addressed(event)
        targets = self.agent_router.match(event)
        if targets and event.source_agent in self.agents:
            targets = [r for r in targets if r.agent.id != event.source_agent]
        if self.sinks:
            targets.extend(self.sink_router.match(event))
        return targets

    def _deliver(
        self, event: AgentEvent, targets: list[AgentRunner | SideRoute], ack: Ack, depth: int
    ) -> None:
        ack.hold(len(targets))
        self.flow.acquire(len(targets))
        for runner in targets:
            delivery = Delivery(event, ack, depth)
            try:
                runner.submit(delivery)
            except Exception as error:  # a flow that raised: that delivery alone fails
                self._not_taken(runner.agent.id, delivery, error)

    def _not_taken(self, agent_id: str, delivery: Delivery, error: Exception) -> None:
        event = delivery.event
        letter = DeadLetter.from_error(
            FailureStage.FLOW, error, event=event, agent_id=agent_id, with_traceback=True
        )
        self.dead_letter(letter)
        if delivery.owner is None:
            self.finished(delivery)
        # Else it raised inside a flow, which may still hold it: it stays unacknowledged
        # (the end of the run reports it; a restart delivers it again).
        logger.error(
            "agent %s: its flow raised on event %s", agent_id, event.event_id, exc_info=error
        )

    def _addressed(self, event: AgentEvent) -> list[AgentRunner | SideRoute]:
        # Addressed to agents of this pipeline: delivered to them. Addressed to agents
        # that run elsewhere: the sinks that take the event carry it there (a Kafka sink,
        # say); only when none does is it a routing failure.
        found: list[AgentRunner | SideRoute] = [
            self.agents[a] for a in event.target_agents if a in self.agents
        ]
        carriers = self.sink_router.match(event) if self.sinks else []
        if len(found) < len(event.target_agents) and not carriers:
            missing = [a for a in event.target_agents if a not in self.agents]
            error = LookupError(
                f"event is addressed to agent(s) {', '.join(map(repr, missing))}, which "
                f"pipeline {self.name!r} does not have, and no sink takes it elsewhere"
            )
            self.dead_letter(DeadLetter.from_error(FailureStage.ROUTING, error, event=event))
        found.extend(carriers)
        return found

    # -- RunnerHost ----------------------------------------------------------------------

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        """Route an agent's reactions; they hold their cause's source records open."""
        depth += 1
        self.counters.emitted += len(events)
        for event in events:
            if depth > self.max_depth:
                self.dead_letter(runaway_letter(event, self.max_depth))
                continue
            targets = self._match(event)
            if targets:
                self._deliver(event, targets, ack, depth)
            if self.tap.observers:
                self.tap.on_next(event)

    def dead_letter(self, letter: DeadLetter) -> None:
        """Record a dead letter (it is written before anything is acknowledged)."""
        self.counters.dead_letters += 1
        self.dead_letters.write(letter)

    def finished(self, delivery: Delivery) -> None:
        """A delivery is handled or dead-lettered."""
        delivery.ack.release()
        self.flow.release()

    def dropper(self, origin: str) -> Callable[[AgentEvent, str], None]:
        """An ``on_drop`` callback that dead-letters what a full buffer drops."""
        return lambda event, reason: self.dead_letter(overflow_letter(event, origin, reason))
