"""Pipeline behaviour in-process: routing, reactions, priority, retries, acks, flow."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import reactivex

from reagents.dead_letter import FailureStage
from reagents.delivery import Incoming
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent, AgentResponse
from reagents.operators.filters import where_type
from reagents.pipelines.lifecycle import SourceFailedError
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff, Watermarks
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources.base import Source

FAST_RETRY = Backoff(max_retries=2, initial=0.001, multiplier=1.0, max_delay=0.001, jitter=0)


def event(kind: str, **payload: object) -> AgentEvent:
    return AgentEvent(event_type=kind, payload=dict(payload))


@pytest.fixture
def letters() -> MemoryDeadLetters:
    return MemoryDeadLetters()


@pytest.fixture
def pipeline(letters: MemoryDeadLetters) -> Pipeline:
    return Pipeline("test", dead_letters=letters)


class ListSource(Source):
    """A finite source whose acks are recorded, to check what was acknowledged when."""

    def __init__(self, events: Sequence[AgentEvent], batch_size: int = 2) -> None:
        self.name = "list"
        self.events = list(events)
        self.batch_size = batch_size
        self.acked: list[str] = []
        self.pulled = 0
        self.in_flight_at_pull: list[int] = []
        self.pipeline: Pipeline | None = None

    async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
        for start in range(0, len(self.events), self.batch_size):
            if self.pipeline is not None:
                self.in_flight_at_pull.append(self.pipeline.in_flight)
            chunk = self.events[start : start + self.batch_size]
            self.pulled += len(chunk)
            yield [Incoming(e, ack=self._acker(e.event_id), origin="list") for e in chunk]

    def _acker(self, event_id: str):  # type: ignore[no-untyped-def]
        return lambda: self.acked.append(event_id)


async def test_three_agent_choreography_keeps_the_causation_chain(pipeline: Pipeline) -> None:
    seen = MemorySink(name="all")
    pipeline.add_sink(seen)

    @pipeline.agent(subscription="type = order.created")
    async def inventory(e: AgentEvent) -> AgentEvent:
        return e.derive("stock.reserved", {"sku": e.payload["sku"]})

    @pipeline.agent(subscription=where_type("stock.reserved"))
    async def payment(e: AgentEvent) -> AgentEvent:
        return AgentEvent(event_type="payment.captured", payload={"amount": 10})

    @pipeline.agent(subscription="type = payment.captured")
    def shipping(e: AgentEvent) -> dict[str, str]:
        return {"tracking": "T1"}

    root = AgentEvent(event_type="order.created", payload={"sku": "X"}, correlation_id="order-1")
    pipeline.publish(root)
    await pipeline.run()

    by_type = {e.event_type: e for e in seen.events}
    assert list(by_type) == [
        "order.created",
        "stock.reserved",
        "payment.captured",
        "agent_response",
    ]
    reserved, captured, response = (
        by_type["stock.reserved"],
        by_type["payment.captured"],
        by_type["agent_response"],
    )
    assert {e.correlation_id for e in seen.events} == {"order-1"}
    assert reserved.causation_id == root.event_id
    assert captured.causation_id == reserved.event_id
    assert response.causation_id == captured.event_id
    assert (reserved.source_agent, captured.source_agent, response.source_agent) == (
        "inventory",
        "payment",
        "shipping",
    )
    reply = AgentResponse.model_validate(response.payload)
    assert reply.result == {"tracking": "T1"}
    assert reply.original_event_id == captured.event_id
    assert reply.agent_id == "shipping"


async def test_fan_out_reaches_every_matching_agent_once(pipeline: Pipeline) -> None:
    calls: list[str] = []
    for name, subscription in [("a", "type = x"), ("b", "type = x*"), ("c", "type = y")]:

        def handler(e: AgentEvent, n: str = name) -> None:
            calls.append(n)

        pipeline.add_agent(Agent(handler, id=name, subscription=subscription))
    pipeline.publish(event("x"))
    await pipeline.run()
    assert sorted(calls) == ["a", "b"]


async def test_a_busy_agent_takes_the_most_urgent_waiting_event_next(pipeline: Pipeline) -> None:
    release = asyncio.Event()
    order: list[str] = []

    @pipeline.agent(max_concurrent=1)
    async def slow(e: AgentEvent) -> None:
        if e.payload["name"] == "first":
            await release.wait()
        order.append(e.payload["name"])

    async def feed() -> None:
        while pipeline.stats()["slow"].in_flight == 0:
            await asyncio.sleep(0)
        for name, priority in [("low-1", 9), ("normal-1", 5), ("urgent", 1), ("normal-2", 5)]:
            pipeline.publish(
                AgentEvent(event_type="job", priority=priority, payload={"name": name})
            )
        while pipeline.stats()["slow"].queue_depth < 4:
            await asyncio.sleep(0)
        release.set()

    pipeline.publish(AgentEvent(event_type="job", payload={"name": "first"}))
    await asyncio.gather(pipeline.run(), feed())
    assert order == ["first", "urgent", "normal-1", "normal-2", "low-1"]


async def test_failures_are_retried_per_agent_then_dead_lettered(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    attempts: dict[str, list[int]] = {}
    healthy: list[str] = []

    @pipeline.agent(retry=FAST_RETRY)
    def flaky(e: AgentEvent) -> None:
        attempts.setdefault(e.event_id, []).append(e.retry_count)
        raise RuntimeError("model overloaded")

    @pipeline.agent()
    def steady(e: AgentEvent) -> None:
        healthy.append(e.event_id)

    bad = event("task")
    pipeline.publish(bad)
    pipeline.publish(event("task"))
    await pipeline.run()

    assert list(attempts.values()) == [[0, 1, 2], [0, 1, 2]]
    assert len(healthy) == 2  # the other agent saw each event exactly once
    assert len(letters.letters) == 2
    letter = letters.letters[0]
    assert letter.stage is FailureStage.AGENT
    assert letter.agent_id == "flaky"
    assert letter.attempts == 3
    assert letter.error_type == "RuntimeError"
    assert letter.message == "model overloaded"
    assert letter.event is not None
    assert letter.event.event_id == bad.event_id
    assert letter.first_failure_at <= letter.last_failure_at
    stats = pipeline.stats()["flaky"]
    assert (stats.failed, stats.retried, stats.dead_lettered, stats.processed) == (6, 4, 2, 0)


async def test_the_events_own_max_retries_caps_the_agents_policy(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    @pipeline.agent(retry=FAST_RETRY)
    def failing(e: AgentEvent) -> None:
        raise ValueError("no")

    pipeline.publish(AgentEvent(event_type="t", max_retries=0))
    await pipeline.run()
    assert letters.letters[0].attempts == 1


async def test_a_runaway_cycle_is_stopped_by_the_depth_guard(letters: MemoryDeadLetters) -> None:
    pipeline = Pipeline(dead_letters=letters, max_depth=5)

    @pipeline.agent(subscription="type = ping")
    def ping(e: AgentEvent) -> AgentEvent:
        return e.derive("pong")

    @pipeline.agent(subscription="type = pong")
    def pong(e: AgentEvent) -> AgentEvent:
        return e.derive("ping")

    pipeline.publish(event("ping"))
    await pipeline.run()
    assert pipeline.stats()["ping"].processed + pipeline.stats()["pong"].processed == 6
    [letter] = letters.letters
    assert letter.stage is FailureStage.ROUTING
    assert "max_depth=5" in letter.message
    assert "runaway" in letter.message


async def test_a_record_is_acked_only_after_every_agent_and_every_reaction(
    pipeline: Pipeline,
) -> None:
    gate = asyncio.Event()
    matched, unmatched = event("watched"), event("ignored")
    source = ListSource([matched, unmatched], batch_size=1)
    pipeline.add_source(source)

    @pipeline.agent(subscription="type = watched")
    def first(e: AgentEvent) -> AgentEvent:
        return e.derive("follow_up")

    @pipeline.agent(subscription="type = follow_up")
    async def second(e: AgentEvent) -> None:
        await gate.wait()

    async def check() -> None:
        while unmatched.event_id not in source.acked:
            await asyncio.sleep(0)
        for _ in range(20):
            await asyncio.sleep(0)
        # the unmatched record is acked at once; the matched one waits for the reaction
        assert source.acked == [unmatched.event_id]
        gate.set()

    await asyncio.gather(pipeline.run(), check())
    assert source.acked == [unmatched.event_id, matched.event_id]


async def test_a_dead_lettered_record_is_acked_too(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    source = ListSource([event("x")])
    pipeline.add_source(source)

    def broken(e: AgentEvent) -> None:
        raise ZeroDivisionError("division by zero")

    pipeline.add_agent(Agent(broken, id="broken", retry=FAST_RETRY))
    await pipeline.run()
    assert len(source.acked) == 1
    assert letters.letters[0].error_type == "ZeroDivisionError"


async def test_sources_are_only_pulled_while_there_is_room(letters: MemoryDeadLetters) -> None:
    pipeline = Pipeline(dead_letters=letters, watermarks=Watermarks(high=8, low=2))
    source = ListSource([event("work", n=n) for n in range(100)], batch_size=4)
    source.pipeline = pipeline
    pipeline.add_source(source)
    done: list[int] = []

    @pipeline.agent(max_concurrent=2)
    async def slow(e: AgentEvent) -> None:
        await asyncio.sleep(0)
        done.append(e.payload["n"])

    await pipeline.run()
    assert sorted(done) == list(range(100))
    assert len(source.acked) == 100
    # pulled only below the high mark; after reaching it, only once back at the low mark
    assert max(source.in_flight_at_pull) < 8
    assert any(n <= 2 for n in source.in_flight_at_pull[1:])
    assert pipeline.stats()["slow"].in_flight == 0


async def test_events_addressed_to_agents_skip_subscriptions(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    got: list[str] = []
    pipeline.add_agent(Agent(lambda e: got.append("a"), id="a", subscription="type = never"))
    pipeline.add_agent(Agent(lambda e: got.append("b"), id="b"))
    pipeline.publish(AgentEvent(event_type="direct", target_agents=("a", "ghost")))
    await pipeline.run()
    assert got == ["a"]
    [letter] = letters.letters
    assert letter.stage is FailureStage.ROUTING
    assert "'ghost'" in letter.message


async def test_schema_invalid_events_are_dead_lettered_before_routing(
    letters: MemoryDeadLetters,
) -> None:
    schemas = PayloadSchemas({"quote": {"type": "object", "required": ["price"]}})
    pipeline = Pipeline(dead_letters=letters, schemas=schemas)
    got: list[AgentEvent] = []
    pipeline.add_agent(Agent(got.append, id="a"))
    pipeline.publish(event("quote", price=1))
    pipeline.publish(event("quote", cost=1))
    await pipeline.run()
    assert len(got) == 1
    [letter] = letters.letters
    assert letter.stage is FailureStage.VALIDATION
    assert "'price' is a required property" in letter.message


async def test_every_kind_of_handler_result_goes_back_on_the_bus(pipeline: Pipeline) -> None:
    out = MemorySink(where_type("out*"), name="out")
    pipeline.add_sink(out)

    async def stream(e: AgentEvent) -> AsyncIterator[AgentEvent]:
        for n in range(2):
            yield e.derive("out.async", {"n": n})

    handlers = {
        "none": lambda e: None,
        "event": lambda e: e.derive("out.event"),
        "many": lambda e: [e.derive("out.many"), AgentEvent(event_type="out.many")],
        "stream": stream,
        "rx": lambda e: reactivex.of(e.derive("out.rx"), e.derive("out.rx")),
        "future": lambda e: asyncio.sleep(0, result=e.derive("out.awaited")),
    }
    for name, handler in handlers.items():
        pipeline.add_agent(Agent(handler, id=name, subscription=f"type = in.{name}"))
        pipeline.publish(event(f"in.{name}"))
    await pipeline.run()
    assert sorted(out.event_types()) == sorted(
        [
            "out.event",
            "out.many",
            "out.many",
            "out.async",
            "out.async",
            "out.rx",
            "out.rx",
            "out.awaited",
        ]
    )
    assert all(e.causation_id is not None for e in out.events)


async def test_a_handler_returning_nonsense_is_dead_lettered_with_a_clear_reason(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    nonsense = Agent(lambda e: 42, id="odd", retry=Backoff(max_retries=0))  # type: ignore[arg-type, return-value]
    pipeline.add_agent(nonsense)
    pipeline.publish(event("x"))
    await pipeline.run()
    assert "agent 'odd' returned int" in letters.letters[0].message


async def test_a_failing_source_fails_the_pipeline_naming_it(pipeline: Pipeline) -> None:
    class Broken(Source):
        name = "ticker"

        async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
            yield [Incoming(event("x"))]
            raise OSError("connection reset")

    pipeline.add_source(Broken())
    with pytest.raises(SourceFailedError, match="source 'ticker' failed: OSError: connection"):
        await pipeline.run()


async def test_stop_drains_in_flight_work(pipeline: Pipeline) -> None:
    handled: list[int] = []

    @pipeline.agent(max_concurrent=3)
    async def worker(e: AgentEvent) -> None:
        await asyncio.sleep(0.01)
        handled.append(e.payload["n"])

    for n in range(6):
        pipeline.publish(event("job", n=n))
    task = asyncio.create_task(pipeline.run(forever=True))
    while pipeline.stats()["worker"].in_flight == 0:
        await asyncio.sleep(0)
    await pipeline.stop(timeout=5)
    await task
    assert sorted(handled) == list(range(6))


async def test_forever_keeps_serving_published_events_until_stopped(pipeline: Pipeline) -> None:
    got: list[int] = []
    pipeline.add_agent(Agent(lambda e: got.append(e.payload["n"]), id="a"))
    task = asyncio.create_task(pipeline.run(forever=True))
    for n in range(3):
        pipeline.publish(event("x", n=n))
        while len(got) <= n:
            await asyncio.sleep(0.001)
    assert not task.done()
    pipeline.request_stop()
    await task
    assert got == [0, 1, 2]


async def test_sink_failures_are_retried_then_dead_lettered(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    class Full(MemorySink):
        async def write(self, event: AgentEvent) -> None:
            raise OSError("disk full")

    pipeline.add_sink(Full(name="disk"))
    pipeline.publish(event("x"))
    await pipeline.run()
    [letter] = letters.letters
    assert letter.stage is FailureStage.SINK
    assert letter.agent_id == "sink:disk"


def test_configuration_mistakes_fail_at_declaration(pipeline: Pipeline) -> None:
    pipeline.add_agent(Agent(lambda e: None, id="a"))
    with pytest.raises(ConfigurationError, match="already has an agent 'a'"):
        pipeline.add_agent(Agent(lambda e: None, id="a"))
    with pytest.raises(ConfigurationError, match="max_concurrent must be a positive integer"):
        Agent(lambda e: None, id="b", max_concurrent=0)
    with pytest.raises(ConfigurationError, match="no handler"):
        Agent(id="c")
    with pytest.raises(ConfigurationError, match="may only contain"):
        Agent(lambda e: None, id="has space")


def test_subscriptions_are_indexed_by_type(pipeline: Pipeline) -> None:
    pipeline.add_agent(Agent(lambda e: None, id="orders", subscription="type = order.*"))
    pipeline.add_agent(Agent(lambda e: None, id="quotes", subscription="type = quote"))
    pipeline.add_agent(Agent(lambda e: None, id="all"))
    assert pipeline.subscriptions_index() == {
        "quote": ["quotes"],
        "order.*": ["orders"],
        "*": ["all"],
    }


async def test_a_class_agent_keeps_state(pipeline: Pipeline) -> None:
    class Counter(Agent):
        subscription = "type = tick"

        def __init__(self) -> None:
            super().__init__(id="counter")
            self.count = 0

        def handle(self, event: AgentEvent) -> None:
            self.count += 1

    counter = Counter()
    pipeline.add_agent(counter)
    for _ in range(3):
        pipeline.publish(event("tick"))
    pipeline.publish(event("tock"))
    await pipeline.run()
    assert counter.count == 3


async def test_an_agent_does_not_hear_its_own_events_unless_addressed(
    pipeline: Pipeline,
) -> None:
    heard: list[str] = []

    @pipeline.agent()
    def echo(e: AgentEvent) -> AgentEvent | None:
        heard.append(e.event_type)
        if e.event_type == "start":
            return e.derive("echoed")
        if e.event_type == "echoed":
            return None
        return e.derive("again", target_agents=("echo",)) if e.event_type == "loop" else None

    pipeline.publish(event("start"))
    pipeline.publish(event("loop"))
    await pipeline.run()
    assert heard == ["start", "loop", "again"]


async def test_events_for_agents_elsewhere_leave_through_a_sink(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    outbound = MemorySink("type = command", name="to-kafka")
    pipeline.add_sink(outbound)
    pipeline.publish(AgentEvent(event_type="command", target_agents=("remote",)))
    pipeline.publish(AgentEvent(event_type="other", target_agents=("remote",)))
    await pipeline.run()
    assert outbound.event_types() == ["command"]
    [letter] = letters.letters  # only the one no sink carries away
    assert letter.event is not None
    assert letter.event.event_type == "other"
    assert "no sink takes it elsewhere" in letter.message


async def test_only_runs_a_subset_of_the_agents_with_the_same_wiring(
    pipeline: Pipeline, letters: MemoryDeadLetters
) -> None:
    seen: list[str] = []
    pipeline.add_agent(Agent(lambda e: seen.append("a"), id="a"))
    pipeline.add_agent(Agent(lambda e: seen.append("b"), id="b"))
    out = pipeline.add_sink(MemorySink(name="out"))
    part = pipeline.only(["b"])
    assert [agent.id for agent in part.agents] == ["b"]
    assert part.sinks == [out]
    assert part.dead_letter_sink is letters
    part.publish(event("x"))
    await part.run()
    assert seen == ["b"]
    with pytest.raises(KeyError, match="has no agent 'c'"):
        pipeline.only(["c"])
