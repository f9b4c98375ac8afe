"""The transport contract, written once: what every source/sink pair owes a pipeline.

A transport is adapted to the tests by a small `Transport` (write raw records, make a
source and a sink, read back the checkpoint and what the sink wrote); a test module
per transport subclasses `TransportContract` and provides a ``transport`` fixture.
The behaviours:

* ack order: the checkpoint covers only the contiguous prefix of acked records;
* a crashed run (its ``run()`` task cancelled) is delivered again from the checkpoint;
* a full window pauses the source, and everything is still delivered;
* undecodable records become decode dead letters and the stream goes on;
* a sink writes what its subscription matches, in order, all of it once closed.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence

import pytest

from reagents.dead_letter import FailureStage
from reagents.delivery import Incoming
from reagents.events import AgentEvent, encode_event
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sinks.agent import Agent
from reagents.sinks.base import Sink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.base import Source
from reagents.sources.memory import MemorySource

TIMEOUT = 30.0
BATCH = 4
SOURCE_WINDOW = Watermarks(high=6, low=2)  # below the pipeline's: the source pauses itself
PIPELINE_MARKS = Watermarks(high=8, low=2)


class Transport(ABC):
    """One transport as the contract sees it: an input log read by a checkpointing source,
    and an output a sink writes to. Positions count records from 0."""

    @abstractmethod
    async def write_records(self, records: Sequence[bytes]) -> None:
        """Append raw records (any bytes) to the input."""

    async def write_events(self, events: Sequence[AgentEvent]) -> None:
        """Append events in their wire form to the input."""
        await self.write_records([encode_event(event) for event in events])

    @abstractmethod
    def source(self, *, batch_size: int = 64, window: Watermarks | None = None) -> Source:
        """A source on the input, resuming from the checkpoint, that ends once it has read
        everything (``window`` is its own in-flight window, where it has one)."""

    @abstractmethod
    async def checkpoint(self) -> int:
        """How many input records the stored checkpoint covers (read once sources closed)."""

    def pauses(self, source: Source) -> int | None:
        """How often ``source`` paused itself; None for a source without a window of its
        own (it is paused by the pipeline not pulling it)."""
        return None

    @abstractmethod
    def origin(self, position: int) -> str:
        """The origin a record at ``position`` is reported with."""

    @abstractmethod
    def sink(self, subscription: str) -> Sink:
        """A sink writing to the output, buffering all it can until flushed."""

    @abstractmethod
    async def written(self) -> list[AgentEvent]:
        """Every event in the output, in order."""


def numbered(count: int, event_type: str = "tick") -> list[AgentEvent]:
    return [AgentEvent(event_type=event_type, payload={"n": n}) for n in range(count)]


def ns(records: Sequence[Incoming]) -> list[int]:
    return [r.item.payload["n"] for r in records if isinstance(r.item, AgentEvent)]


async def _closing(source: Source) -> AsyncGenerator[Sequence[Incoming], None]:
    """``source.batches()``, closed when the caller stops iterating."""
    batches: AsyncIterator[Sequence[Incoming]] = source.batches()
    try:
        async for batch in batches:
            yield batch
    finally:
        if isinstance(batches, AsyncGenerator):
            await batches.aclose()


async def pull(source: Source, count: int) -> list[Incoming]:
    """The next ``count`` records of ``source``, without acking them."""
    got: list[Incoming] = []
    async with asyncio.timeout(TIMEOUT):
        batches = _closing(source)
        async for batch in batches:
            got.extend(batch)
            if len(got) >= count:
                break
        await batches.aclose()
    assert len(got) == count, f"wanted {count} records, the source ended after {len(got)}"
    return got


async def rest(source: Source) -> list[Incoming]:
    """Every record ``source`` still has, until it ends."""
    async with asyncio.timeout(TIMEOUT):
        return [record async for batch in _closing(source) for record in batch]


class CountingSource(Source):
    """Passes another source's records on, counting those handed out and not yet acked."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.name = inner.name
        self.pausable = inner.pausable
        self.outstanding = 0
        self.peak = 0

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        async for batch in _closing(self.inner):
            self.outstanding += len(batch)
            self.peak = max(self.peak, self.outstanding)
            yield [Incoming(r.item, self._counted(r.ack), r.origin) for r in batch]

    def _counted(self, ack: Callable[[], None]) -> Callable[[], None]:
        def counted() -> None:
            self.outstanding -= 1
            ack()

        return counted

    async def close(self) -> None:
        await self.inner.close()


def pipeline_of(name: str, source: Source, *agents: Agent) -> tuple[Pipeline, MemoryDeadLetters]:
    letters = MemoryDeadLetters()
    pipeline = Pipeline(name, sources=[source], agents=agents, dead_letters=letters)
    return pipeline, letters


class TransportContract:
    """The behaviour every transport owes a pipeline; subclass with a ``transport`` fixture."""

    async def test_the_checkpoint_covers_only_the_contiguous_acked_prefix(
        self, transport: Transport
    ) -> None:
        await transport.write_events(numbered(6))
        source = transport.source(batch_size=2)
        got = await pull(source, 6)
        assert ns(got) == [0, 1, 2, 3, 4, 5]
        for index in (4, 2, 3, 0):  # later records finish first; 1 and 5 never do
            got[index].ack()
        await source.close()
        assert await transport.checkpoint() == 1

        source = transport.source(batch_size=2)
        got = await pull(source, 5)
        assert ns(got) == [1, 2, 3, 4, 5]  # acked early is not checkpointed: all again
        got[4].ack()
        got[0].ack()
        await source.close()
        assert await transport.checkpoint() == 2

        source = transport.source()
        got = await pull(source, 4)
        assert ns(got) == [2, 3, 4, 5]
        for record in reversed(got):
            record.ack()
        await source.close()
        assert await transport.checkpoint() == 6

        source = transport.source()
        assert await rest(source) == []
        await source.close()

    async def test_a_crashed_run_is_delivered_again_from_the_checkpoint(
        self, transport: Transport
    ) -> None:
        events = numbered(30)
        ids = [event.event_id for event in events]
        await transport.write_events(events)
        first: list[str] = []
        stuck = asyncio.Event()

        async def hangs_at_the_tenth(event: AgentEvent) -> None:
            first.append(event.event_id)
            if len(first) >= 10:  # work in hand when the process "crashes"
                stuck.set()
                await asyncio.Event().wait()

        recorder = Agent(hangs_at_the_tenth, id="recorder", max_concurrent=2)
        pipeline, _ = pipeline_of("crash", transport.source(batch_size=BATCH), recorder)
        run = asyncio.create_task(pipeline.run())
        await asyncio.wait_for(stuck.wait(), TIMEOUT)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        at_crash = await transport.checkpoint()
        assert at_crash == 9  # the ninth record was the last of the acked prefix
        assert set(ids[:at_crash]) <= set(first)

        second: list[str] = []
        again = Agent(lambda event: second.append(event.event_id), id="recorder")
        pipeline, _ = pipeline_of("restart", transport.source(batch_size=BATCH), again)
        await asyncio.wait_for(pipeline.run(), TIMEOUT)
        assert second == ids[at_crash:]  # everything not acknowledged, and only that
        assert set(first) | set(second) == set(ids)
        assert await transport.checkpoint() == 30

    async def test_a_full_window_pauses_the_source_and_everything_is_delivered(
        self, transport: Transport
    ) -> None:
        await transport.write_events(numbered(60))
        source = transport.source(batch_size=BATCH, window=SOURCE_WINDOW)
        counting = CountingSource(source)
        letters = MemoryDeadLetters()
        pipeline = Pipeline(
            "window", sources=[counting], dead_letters=letters, watermarks=PIPELINE_MARKS
        )
        seen: list[int] = []
        peak_in_flight = 0

        @pipeline.agent("slow")
        async def slow(event: AgentEvent) -> None:
            nonlocal peak_in_flight
            peak_in_flight = max(peak_in_flight, pipeline.in_flight)
            await asyncio.sleep(0.001)  # slower than reading
            seen.append(event.payload["n"])

        await asyncio.wait_for(pipeline.run(), TIMEOUT)
        assert seen == list(range(60))
        bound = PIPELINE_MARKS.high + BATCH - 1  # one batch may overshoot the high mark
        assert peak_in_flight <= bound
        assert counting.peak <= bound
        pauses = transport.pauses(source)
        assert pauses is None or pauses > 0
        assert letters.letters == []
        assert await transport.checkpoint() == 60

    async def test_poison_records_become_decode_dead_letters_and_the_stream_goes_on(
        self, transport: Transport
    ) -> None:
        good = [encode_event(event) for event in numbered(10)]
        await transport.write_records([*good[:5], b"not json {", b"[1, 2]", *good[5:]])
        handled: list[int] = []
        counter = Agent(lambda event: handled.append(event.payload["n"]), id="counter")
        pipeline, letters = pipeline_of("poison", transport.source(batch_size=3), counter)
        await asyncio.wait_for(pipeline.run(), TIMEOUT)

        assert handled == list(range(10))
        first, second = letters.letters
        assert (first.stage, first.raw, first.origin) == (
            FailureStage.DECODE,
            b"not json {",
            transport.origin(5),
        )
        assert first.message.startswith("not valid JSON")
        assert (second.stage, second.raw, second.origin) == (
            FailureStage.DECODE,
            b"[1, 2]",
            transport.origin(6),
        )
        assert second.message == "not a JSON object"
        assert await transport.checkpoint() == 12  # the poison records are acked too

    async def test_a_sink_writes_what_its_subscription_matches_in_order(
        self, transport: Transport
    ) -> None:
        kinds = ["keep", "skip", "KEEP", "keep.more", "keep", "skip"] * 5
        events = [AgentEvent(event_type=kind, payload={"n": n}) for n, kind in enumerate(kinds)]
        sink = transport.sink("type = keep")
        pipeline = Pipeline(
            "sink",
            sources=[MemorySource.from_events(events)],
            sinks=[sink],
            dead_letters=MemoryDeadLetters(),
        )
        await asyncio.wait_for(pipeline.run(), TIMEOUT)  # closing the sink flushes it
        kept = [e.model_dump() for e in events if e.event_type.casefold() == "keep"]
        assert [e.model_dump() for e in await transport.written()] == kept

    async def test_a_sink_has_written_everything_once_closed(self, transport: Transport) -> None:
        events = numbered(50, "any.type")
        sink = transport.sink("type = keep")  # writes straight to a sink are not filtered
        for event in events:
            await sink.write(event)
        await sink.close()
        assert [e.model_dump() for e in await transport.written()] == [
            e.model_dump() for e in events
        ]
