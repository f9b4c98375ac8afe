"""Agents with flows in a running pipeline: what the handler gets, when records are acked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from reactivex import operators as ops

from reagents import (
    Agent,
    AgentEvent,
    Backoff,
    ConfigurationError,
    EventTime,
    FailureStage,
    Incoming,
    MemoryDeadLetters,
    Pipeline,
    Source,
    Watermarks,
    batch,
    by_key,
    each,
    scan,
    tumbling,
    with_latest_from,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class RecordingSource(Source):
    """Yields the given events one batch each; records which were acknowledged, in order."""

    pausable = False

    def __init__(self, events: Sequence[AgentEvent], name: str = "recorded") -> None:
        self.name = name
        self.events = list(events)
        self.acked: list[str] = []

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        for event in self.events:
            yield [Incoming(event, ack=self._acker(event))]

    def _acker(self, event: AgentEvent) -> Callable[[], None]:
        def ack() -> None:
            self.acked.append(event.event_id)

        return ack

    async def close(self) -> None:
        return None


def tick(n: int, symbol: str = "A", seconds: float | None = None) -> AgentEvent:
    at = T0 + timedelta(seconds=n if seconds is None else seconds)
    return AgentEvent(
        event_type="tick", payload={"n": n, "symbol": symbol, "price": 10.0 + n}, timestamp=at
    )


def pipeline_with(*events: AgentEvent) -> tuple[Pipeline, RecordingSource]:
    pipeline = Pipeline("flows", dead_letters=MemoryDeadLetters())
    return pipeline, pipeline.add_source(RecordingSource(events))


async def test_a_batching_agent_gets_lists_and_acks_follow_the_batch() -> None:
    events = [tick(n) for n in range(7)]
    pipeline, source = pipeline_with(*events)
    seen: list[list[int]] = []
    acked_when_handled: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(3)])
    def trader(ticks: list[AgentEvent]) -> None:
        acked_when_handled.append(len(source.acked))
        seen.append([t.payload["n"] for t in ticks])

    await pipeline.run()
    assert seen == [[0, 1, 2], [3, 4, 5], [6]]  # the last batch is flushed at the end
    assert acked_when_handled == [0, 3, 6]  # nothing acked before its batch was handled
    assert source.acked == [e.event_id for e in events]
    assert pipeline.stats()["trader"].processed == 3


async def test_a_flow_given_as_a_function_and_reactions_go_back_on_the_bus() -> None:
    pipeline, source = pipeline_with(*[tick(n) for n in range(4)])
    totals: list[float] = []

    def price(event: AgentEvent) -> float:
        return float(event.payload["price"])

    def add(total: float, value: float) -> float:
        return total + value

    @pipeline.agent(
        subscription="type = tick",
        flow=lambda events: events.pipe(each(ops.map(price)), scan(add, 0.0)),
    )
    def summer(total: float) -> dict[str, float]:
        return {"total": total}

    @pipeline.agent(subscription="type = agent_response")
    def reader(event: AgentEvent) -> None:
        totals.append(event.payload["result"]["total"])

    await pipeline.run()
    assert totals == [10.0, 21.0, 33.0, 46.0]
    assert len(source.acked) == 4


async def test_a_failing_batch_is_retried_then_each_member_dead_lettered() -> None:
    events = [tick(n) for n in range(4)]
    pipeline, source = pipeline_with(*events)
    calls: list[int] = []

    @pipeline.agent(
        subscription="type = tick",
        flow=[batch(2)],
        retry=Backoff(max_retries=2, initial=0.001, max_delay=0.001),
    )
    def broken(ticks: list[AgentEvent]) -> None:
        calls.append(len(ticks))
        raise RuntimeError("model unavailable")

    await pipeline.run()
    assert calls == [2, 2, 2, 2, 2, 2]  # two batches, three attempts each
    letters = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
    assert sorted(letter.event.payload["n"] for letter in letters) == [0, 1, 2, 3]
    assert {letter.attempts for letter in letters} == {3}
    assert {letter.stage for letter in letters} == {FailureStage.AGENT}
    assert len(source.acked) == 4  # dead-lettered records are acknowledged too


async def test_per_key_batches_release_only_their_own_keys_records() -> None:
    events = [tick(0, "A"), tick(1, "B"), tick(2, "A"), tick(3, "B"), tick(4, "B")]
    pipeline, source = pipeline_with(*events)
    handled: list[tuple[str, list[str]]] = []

    @pipeline.agent(
        subscription="type = tick",
        flow=[by_key(lambda e: e.payload["symbol"], batch(2), max_keys=10)],
    )
    def per_symbol(ticks: list[AgentEvent]) -> None:
        handled.append((ticks[0].payload["symbol"], list(source.acked)))

    await pipeline.run()
    ids = [e.event_id for e in events]
    # A's batch (0, 2) was handled first: B's record 1, which arrived before 2, is not
    # acknowledged by it.
    assert handled[0] == ("A", [])
    assert handled[1] == ("B", [ids[0], ids[2]])
    assert sorted(source.acked) == sorted(ids)


async def test_event_time_windows_group_by_timestamp_at_any_speed() -> None:
    events = [
        tick(0, seconds=0.5),
        tick(1, seconds=1.2),
        tick(2, seconds=1.9),
        tick(3, seconds=3.1),
    ]
    pipeline, source = pipeline_with(*events)
    windows: list[list[int]] = []

    @pipeline.agent(subscription="type = tick", flow=[tumbling(1.0)], flow_time=EventTime())
    def per_second(ticks: list[AgentEvent]) -> None:
        windows.append([t.payload["n"] for t in ticks])

    await pipeline.run()
    assert windows == [[0], [1, 2], [3]]
    assert len(source.acked) == 4


async def test_with_latest_from_pairs_orders_with_the_newest_rate() -> None:
    rate1 = AgentEvent(event_type="fx", payload={"rate": 1.1})
    rate2 = AgentEvent(event_type="fx", payload={"rate": 1.2})
    orders = [AgentEvent(event_type="order", payload={"n": n}) for n in range(3)]
    pipeline, source = pipeline_with(orders[0], rate1, orders[1], rate2, orders[2])
    priced: list[tuple[int, float]] = []

    @pipeline.agent(subscription="type = order", flow=[with_latest_from("type = fx")])
    def pricer(pair: tuple[AgentEvent, AgentEvent]) -> None:
        order, rate = pair
        priced.append((order.payload["n"], rate.payload["rate"]))

    await pipeline.run()
    assert priced == [(1, 1.1), (2, 1.2)]  # order 0 came before any rate: dropped
    assert len(source.acked) == 5


def test_a_plain_reactivex_time_operator_is_refused_at_declaration() -> None:
    with pytest.raises(ConfigurationError, match=r"plain reactivex Observable.*each\(\.\.\.\)"):
        Agent(lambda e: None, id="late", flow=[ops.delay(1.0)])
    with pytest.raises(ConfigurationError, match="the end of the flow"):
        Agent(lambda e: None, id="late", flow=lambda events: events.pipe(ops.delay(1.0)))


def test_a_count_batch_above_the_high_watermark_is_refused() -> None:
    pipeline = Pipeline(
        "big", dead_letters=MemoryDeadLetters(), watermarks=Watermarks(high=100, low=50)
    )
    with pytest.raises(ConfigurationError, match=r"hold 499 events.*within="):
        pipeline.add_agent(Agent(lambda e: None, id="hoarder", flow=[batch(500)]))
    pipeline.add_agent(Agent(lambda e: None, id="timed", flow=[batch(500, within=1.0)]))
    with pytest.raises(ConfigurationError, match="max_keys"):
        pipeline.add_agent(
            Agent(lambda e: None, id="keyed", flow=[by_key(lambda e: e.event_type, batch(10))])
        )


async def test_a_processing_time_window_closes_without_more_input() -> None:
    pipeline = Pipeline("live", dead_letters=MemoryDeadLetters())
    windows: list[int] = []
    closed = asyncio.Event()

    @pipeline.agent(subscription="type = tick", flow=[tumbling(0.05)])
    def digest(ticks: list[AgentEvent]) -> None:
        windows.append(len(ticks))
        closed.set()

    async with pipeline.serving():
        pipeline.publish(tick(1))
        pipeline.publish(tick(2))
        await asyncio.wait_for(closed.wait(), 5)  # no more input: the timer closed it
        assert pipeline.in_flight == 0
    assert windows == [2]


async def test_the_end_of_input_flush_waits_for_what_is_still_in_the_inbox() -> None:
    pipeline = Pipeline("inbox", dead_letters=MemoryDeadLetters())
    sizes: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[batch(100)])
    def counter(ticks: list[AgentEvent]) -> None:
        sizes.append(len(ticks))

    for n in range(250):  # several inbox batches: none may be flushed half full
        pipeline.publish(tick(n))
    await pipeline.run()
    assert sizes == [100, 100, 50]


class Digest(Agent[list[AgentEvent]]):
    """A stateful agent whose flow is a class attribute, like its subscription."""

    subscription = "type = tick"
    flow = [batch(2)]

    def __init__(self) -> None:
        super().__init__(id="digest")
        self.sizes: list[int] = []

    def handle(self, event: list[AgentEvent]) -> None:
        self.sizes.append(len(event))


async def test_the_class_form_declares_a_flow_as_a_class_attribute() -> None:
    pipeline, _ = pipeline_with(*[tick(n) for n in range(5)])
    digest = pipeline.add_agent(Digest())
    await pipeline.run()
    assert digest.sizes == [2, 2, 1]
    assert digest.flow_steps == ("batch(2)",)


async def test_a_late_event_is_released_without_being_handled() -> None:
    late = tick(9, seconds=0.7)  # its window [0, 1) closed when 1.5 arrived
    events = [tick(0, seconds=0.5), tick(1, seconds=1.5), late, tick(2, seconds=2.5)]
    pipeline, source = pipeline_with(*events)
    windows: list[list[int]] = []

    @pipeline.agent(subscription="type = tick", flow=[tumbling(1.0)], flow_time=EventTime())
    def per_second(ticks: list[AgentEvent]) -> None:
        windows.append([t.payload["n"] for t in ticks])

    await pipeline.run()
    assert windows == [[0], [1], [2]]
    assert late.event_id in source.acked  # dropped, so acknowledged at once
    assert len(source.acked) == 4


async def test_lateness_keeps_a_window_open_for_stragglers() -> None:
    events = [tick(0, seconds=0.5), tick(1, seconds=1.5), tick(9, seconds=0.7)]
    pipeline, _ = pipeline_with(*events)
    windows: list[list[int]] = []

    @pipeline.agent(
        subscription="type = tick", flow=[tumbling(1.0)], flow_time=EventTime(lateness=2.0)
    )
    def per_second(ticks: list[AgentEvent]) -> None:
        windows.append([t.payload["n"] for t in ticks])

    await pipeline.run()
    assert windows == [[0, 9], [1]]


async def test_a_key_function_that_raises_dead_letters_that_event_at_the_flow_stage() -> None:
    bad = AgentEvent(event_type="tick", payload={"n": 99})  # no symbol
    pipeline, source = pipeline_with(tick(0), bad, tick(1))
    seen: list[list[int]] = []

    @pipeline.agent(
        subscription="type = tick",
        flow=[by_key(lambda e: e.payload["symbol"], batch(5, within=1.0), max_keys=4)],
    )
    def per_symbol(ticks: list[AgentEvent]) -> None:
        seen.append([t.payload["n"] for t in ticks])

    await pipeline.run()
    assert seen == [[0, 1]]
    [letter] = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
    assert letter.stage is FailureStage.FLOW
    assert letter.event.event_id == bad.event_id
    assert letter.error_type == "KeyError"
    assert len(source.acked) == 3


async def test_event_time_windows_holding_more_than_the_watermarks_still_close(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 10 events a second of event time: a window holds 10, the watermarks allow 5.
    marks = Watermarks(high=5, low=4)
    pipeline = Pipeline("tight", dead_letters=MemoryDeadLetters(), watermarks=marks)
    source = pipeline.add_source(RecordingSource([tick(n, seconds=n / 10) for n in range(100)]))
    windows: list[int] = []

    @pipeline.agent(subscription="type = tick", flow=[tumbling(1.0)], flow_time=EventTime())
    def per_second(ticks: list[AgentEvent]) -> None:
        windows.append(len(ticks))

    await asyncio.wait_for(pipeline.run(), 10)
    assert windows == [10] * 10
    assert len(source.acked) == 100
    assert "reading on" in caplog.text


def test_a_count_batch_may_hold_up_to_the_low_watermark() -> None:
    marks = Watermarks(high=100, low=50)
    pipeline = Pipeline("edge", dead_letters=MemoryDeadLetters(), watermarks=marks)
    pipeline.add_agent(Agent(lambda e: None, id="fits", flow=[batch(51)]))  # holds 50
    with pytest.raises(ConfigurationError, match="resume only at 50"):
        pipeline.add_agent(Agent(lambda e: None, id="too_big", flow=[batch(52)]))


def test_a_side_input_must_be_named_by_a_subscription() -> None:
    pipeline = Pipeline("sides", dead_letters=MemoryDeadLetters())
    agent = Agent(lambda pair: None, id="pricer", flow=[with_latest_from(42)])
    with pytest.raises(ConfigurationError, match=r"with_latest_from\(\): name the other stream"):
        pipeline.add_agent(agent)
