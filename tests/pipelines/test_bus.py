"""`Bus`: routing, ack accounting of every delivery and reaction, and dead-letter paths.

Most tests replace the agent runners with `HeldRunner`, which keeps the deliveries it
is given: the test itself decides when each delivery finishes (`Bus.finished`) and what
it emits (`Bus.emit`), so the bus's accounting is checked step by step.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Incoming
from reagents.events import AgentEvent
from reagents.operators.filters import Filter, addressed_only
from reagents.pipelines import bus as bus_module
from reagents.pipelines.bus import Bus
from reagents.pipelines.deliveries import Delivery, RunnerHost
from reagents.pipelines.runner import AgentRunner
from reagents.policies import Watermarks
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters, MemorySink


class HeldRunner(AgentRunner):
    """A runner that keeps what it is given, so the test decides when each one ends."""

    def __init__(
        self, agent: Agent, host: RunnerHost, stage: FailureStage = FailureStage.AGENT
    ) -> None:
        super().__init__(agent, host, stage)
        self.held: list[Delivery] = []

    def submit(self, delivery: Delivery) -> None:
        self.held.append(delivery)


class Acks:
    """Records which source records were acknowledged, by name."""

    def __init__(self) -> None:
        self.acked: list[str] = []

    def incoming(self, event: AgentEvent | DeadLetter, name: str, origin: str = "") -> Incoming:
        return Incoming(event, lambda: self.acked.append(name), origin)


def ev(event_type: str, **fields: object) -> AgentEvent:
    return AgentEvent(event_type=event_type, **fields)


def noop(event: AgentEvent) -> None:
    """A handler that is never called: held runners do not run their agents."""


@pytest.fixture
def held_runners(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bus_module, "AgentRunner", HeldRunner)


@pytest.fixture
def letters() -> MemoryDeadLetters:
    return MemoryDeadLetters()


def make_bus(
    letters: MemoryDeadLetters,
    *,
    schemas: PayloadSchemas | None = None,
    max_depth: int = 32,
    watermarks: Watermarks | None = None,
) -> Bus:
    return Bus("test", letters, schemas, max_depth, watermarks or Watermarks())


@pytest.fixture
def bus(held_runners: None, letters: MemoryDeadLetters) -> Bus:
    return make_bus(letters)


def agent(bus: Bus, agent_id: str, subscription: Filter | str | None = None) -> HeldRunner:
    runner = bus.add_agent(Agent(noop, id=agent_id, subscription=subscription))
    assert isinstance(runner, HeldRunner)
    return runner


def sink(bus: Bus, name: str, subscription: str | None = None) -> HeldRunner:
    runner = bus.add_sink(MemorySink(subscription, name=name))
    assert isinstance(runner, HeldRunner)
    return runner


# -- acknowledgements ----------------------------------------------------------------------


def test_a_record_is_acked_after_every_delivery_and_every_reaction(bus: Bus) -> None:
    accept = agent(bus, "accept", "type = order")
    audit = agent(bus, "audit", "type = order")
    ship = agent(bus, "ship", "type = order.accepted")
    log = sink(bus, "log", "type = order.accepted")
    acks = Acks()
    order = ev("order")

    bus.ingest([acks.incoming(order, "order")])
    [accepting], [auditing] = accept.held, audit.held
    assert accepting.ack is auditing.ack
    assert bus.flow.in_flight == 2

    accepted = order.derive("order.accepted", source_agent="accept")
    bus.emit(
        [accepted], accepting.ack, accepting.depth
    )  # a reaction: emitted before its cause finishes
    bus.finished(accepting)
    [shipping], [logging] = ship.held, log.held
    assert (shipping.depth, logging.depth) == (1, 1)
    assert shipping.ack is accepting.ack
    assert bus.flow.in_flight == 3

    for delivery in (auditing, shipping):
        bus.finished(delivery)
        assert acks.acked == []  # the sink still holds the record
    bus.finished(logging)
    assert acks.acked == ["order"]
    assert bus.flow.idle
    assert (bus.counters.ingested, bus.counters.emitted) == (1, 1)


def test_records_nobody_subscribes_to_are_acked_at_once(bus: Bus) -> None:
    watcher = agent(bus, "watcher", "type = watched")
    acks = Acks()
    bus.ingest(
        [
            acks.incoming(ev("ignored"), "first"),
            acks.incoming(ev("watched"), "watched"),
            acks.incoming(ev("ignored"), "last"),
        ]
    )
    assert acks.acked == ["first", "last"]
    assert bus.flow.in_flight == 1
    bus.finished(watcher.held[0])
    assert acks.acked == ["first", "last", "watched"]
    assert bus.counters.ingested == 3


def test_deliveries_count_against_the_watermarks(
    held_runners: None, letters: MemoryDeadLetters
) -> None:
    bus = make_bus(letters, watermarks=Watermarks(high=3, low=1))
    worker = agent(bus, "worker")
    bus.ingest([Incoming(ev("a")), Incoming(ev("b"))])
    assert bus.flow.has_room
    bus.ingest([Incoming(ev("c"))])
    assert not bus.flow.has_room  # at the high mark: sources wait
    bus.finished(worker.held[0])
    assert not bus.flow.has_room  # above the low mark: still waiting
    bus.finished(worker.held[1])
    assert bus.flow.has_room
    assert bus.flow.peak == 3


# -- dead letters -----------------------------------------------------------------------


def test_a_dead_letter_made_by_the_source_is_recorded_and_acked(
    bus: Bus, letters: MemoryDeadLetters
) -> None:
    everyone = agent(bus, "everyone")
    acks = Acks()
    letter = DeadLetter.from_error(
        FailureStage.DECODE, ValueError("not valid JSON"), raw=b"{oops", origin="f.jsonl:3"
    )
    bus.ingest([acks.incoming(letter, "poison"), acks.incoming(ev("fine"), "fine")])
    assert letters.letters == [letter]
    assert acks.acked == ["poison"]
    assert [d.event.event_type for d in everyone.held] == ["fine"]
    assert bus.counters.dead_letters == 1


class Quote(BaseModel):
    symbol: str
    price: float


def test_payloads_failing_their_schema_are_dead_lettered_before_routing(
    held_runners: None, letters: MemoryDeadLetters
) -> None:
    bus = make_bus(letters, schemas=PayloadSchemas({"quote": Quote}))
    everyone = agent(bus, "everyone")
    tapped: list[AgentEvent] = []
    bus.tap.subscribe(tapped.append)
    acks = Acks()
    bad = ev("quote", payload={"symbol": "ACME", "price": "cheap"})
    missing = ev("quote", payload={"symbol": "ACME"})
    good = ev("quote", payload={"symbol": "ACME", "price": 1.5})
    bus.ingest(
        [
            acks.incoming(bad, "bad", origin="quotes.jsonl:1"),
            acks.incoming(good, "good", origin="quotes.jsonl:2"),
            acks.incoming(missing, "missing"),
        ]
    )
    assert acks.acked == ["bad", "missing"]
    assert [d.event for d in everyone.held] == [good]
    assert tapped == [good]
    first, second = letters.letters
    assert (first.stage, first.event, first.origin) == (
        FailureStage.VALIDATION,
        bad,
        "quotes.jsonl:1",
    )
    assert "payload.price" in first.message
    assert (second.event, second.origin) == (missing, None)
    assert "payload.price" in second.message


def test_an_event_for_an_agent_the_pipeline_lacks_is_a_routing_dead_letter(
    bus: Bus, letters: MemoryDeadLetters
) -> None:
    server = agent(bus, "server", addressed_only())
    acks = Acks()
    bus.ingest(
        [
            acks.incoming(ev("cmd", target_agents=("server", "ghost")), "partly"),
            acks.incoming(ev("cmd", target_agents=("ghost",)), "nowhere"),
        ]
    )
    assert acks.acked == ["nowhere"]  # nobody to deliver to: dead-lettered and acked
    assert len(server.held) == 1  # the agent that is here still gets its copy
    assert [letter.stage for letter in letters.letters] == [FailureStage.ROUTING] * 2
    assert all("'ghost'" in letter.message for letter in letters.letters)
    assert "pipeline 'test' does not have" in letters.letters[0].message
    assert letters.letters[0].error_type == "LookupError"


def test_a_sink_that_takes_the_event_carries_it_to_agents_elsewhere(
    bus: Bus, letters: MemoryDeadLetters
) -> None:
    outbox = sink(bus, "outbox", "type = cmd")
    elsewhere = ev("cmd", target_agents=("remote",))
    bus.ingest([Incoming(elsewhere)])
    assert [d.event for d in outbox.held] == [elsewhere]
    assert letters.letters == []


def test_a_runaway_causation_chain_is_cut_at_max_depth(
    held_runners: None, letters: MemoryDeadLetters
) -> None:
    bus = make_bus(letters, max_depth=2)
    ping = agent(bus, "ping", "type = ping")
    pong = agent(bus, "pong", "type = pong")
    acks = Acks()
    bus.ingest([acks.incoming(ev("ping"), "root")])

    first = ping.held[0]
    bus.emit([first.event.derive("pong", source_agent="ping")], first.ack, first.depth)
    second = pong.held[0]
    bus.emit([second.event.derive("ping", source_agent="pong")], second.ack, second.depth)
    third = ping.held[1]
    assert [first.depth, second.depth, third.depth] == [0, 1, 2]
    runaway = third.event.derive("pong", source_agent="ping")
    bus.emit([runaway], third.ack, third.depth)

    assert len(pong.held) == 1  # depth 3 was not delivered
    [letter] = letters.letters
    assert (letter.stage, letter.event, letter.agent_id) == (FailureStage.ROUTING, runaway, "ping")
    assert letter.error_type == "RecursionError"
    assert "max_depth=2" in letter.message
    for delivery in (first, second, third):
        bus.finished(delivery)
    assert acks.acked == ["root"]
    assert bus.flow.idle


def test_full_buffers_drop_into_dead_letters(bus: Bus, letters: MemoryDeadLetters) -> None:
    dropped = ev("tick")
    bus.dropper("inbox")(dropped, "drop_oldest")
    [letter] = letters.letters
    assert (letter.stage, letter.event, letter.origin) == (FailureStage.ROUTING, dropped, "inbox")
    assert letter.message == "the inbox buffer was full (drop_oldest)"


# -- who receives what ------------------------------------------------------------------


def test_an_agent_never_hears_its_own_events_unless_addressed(bus: Bus) -> None:
    echo = agent(bus, "echo")
    other = agent(bus, "other")
    outbox = sink(bus, "outbox")
    bus.ingest([Incoming(ev("said"))])
    cause = echo.held[0]

    own = cause.event.derive("said", source_agent="echo")
    bus.emit([own], cause.ack, cause.depth)
    assert [d.event for d in echo.held] == [cause.event]
    assert [d.event for d in other.held][-1] == own
    assert [d.event for d in outbox.held][-1] == own  # sinks take it all the same

    to_self = cause.event.derive("note", source_agent="echo", target_agents=("echo",))
    bus.emit([to_self], cause.ack, cause.depth)
    assert echo.held[-1].event == to_self
    assert to_self not in [d.event for d in other.held]  # addressed: subscriptions skipped


def test_the_tap_sees_every_routed_event_and_nothing_dead_lettered_before(
    held_runners: None, letters: MemoryDeadLetters
) -> None:
    bus = make_bus(letters, max_depth=1)
    relay = agent(bus, "relay", "type = inbound")
    tapped: list[AgentEvent] = []
    bus.tap.subscribe(tapped.append)
    matched, unmatched = ev("inbound"), ev("nobody.listens")
    poison = DeadLetter.from_error(FailureStage.DECODE, ValueError("x"), raw=b"x")
    bus.ingest([Incoming(matched), Incoming(poison), Incoming(unmatched)])
    cause = relay.held[0]
    reaction = matched.derive("out", source_agent="relay")
    bus.emit([reaction], cause.ack, cause.depth)
    too_deep = reaction.derive("out.again", source_agent="relay")
    bus.emit([too_deep], cause.ack, 1)
    assert tapped == [matched, unmatched, reaction]


async def test_an_awaited_answer_is_the_named_agents_first_reaction(bus: Bus) -> None:
    server = agent(bus, "server")
    agent(bus, "bystander")
    request = ev("ask", target_agents=("server",))
    answer = bus.expect_answer(request, "server")
    bus.ingest([Incoming(request)])
    cause = server.held[0]
    bus.emit([request.derive("chatter", source_agent="bystander")], cause.ack, cause.depth)
    assert not answer.done()  # another agent's reaction is no answer
    reply = request.derive("reply", source_agent="server")
    bus.emit([reply, request.derive("reply.again", source_agent="server")], cause.ack, cause.depth)
    assert answer.result() == reply

    forgotten = ev("ask", target_agents=("server",))
    unanswered = bus.expect_answer(forgotten, "server")
    bus.forget_answer(forgotten)
    bus.emit([forgotten.derive("reply", source_agent="server")], cause.ack, cause.depth)
    assert not unanswered.done()


async def test_with_real_runners_the_record_waits_for_the_whole_chain(
    letters: MemoryDeadLetters,
) -> None:
    bus = make_bus(letters)
    gate = asyncio.Event()
    reached = asyncio.Event()
    acked = asyncio.Event()

    def accept(event: AgentEvent) -> AgentEvent:
        return event.derive("accepted")

    async def ship(event: AgentEvent) -> None:
        reached.set()
        await gate.wait()

    runners = [
        bus.add_agent(Agent(accept, id="accept", subscription="type = order")),
        bus.add_agent(Agent(ship, id="ship", subscription="type = accepted")),
    ]
    for runner in runners:
        runner.start()
    try:
        bus.ingest([Incoming(ev("order"), acked.set)])
        await asyncio.wait_for(reached.wait(), 5)
        assert not acked.is_set()
        assert bus.flow.in_flight == 1  # accept finished; ship holds the record
        gate.set()
        await asyncio.wait_for(acked.wait(), 5)
        assert bus.flow.idle
    finally:
        for runner in runners:
            await runner.stop()
