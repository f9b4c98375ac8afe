"""The cycle guard crosses Kafka: a ping-pong between two processes stops at max_depth.

Two pipelines (two processes, as far as the bus knows) play ping-pong over two topics:
each reads the other's answers with a `KafkaSource` and writes its own with a
`KafkaSink`. The causation depth rides in the ``reagents-depth`` header, so the reaction
one step deeper than ``max_depth`` is dead-lettered, whichever process makes it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from reagents.dead_letter import FailureStage
from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.kafka.headers import DEPTH_HEADER, read_depth
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, produce
from tests.kafka.test_roundtrip import read_all

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

MAX_DEPTH = 5


def player(config: KafkaConfig, hears: str, answers: str, reads: str, writes: str) -> Pipeline:
    """A pipeline whose agent answers each ``hears`` event read from ``reads`` with an
    ``answers`` event (n + 1) written to ``writes``."""
    source = KafkaSource(reads, group_id=None, config=config, start="earliest")
    sink = KafkaSink(writes, f"type = {answers}", config=config)
    pipeline = Pipeline(
        f"{hears}-player",
        sources=[source],
        sinks=[sink],
        dead_letters=MemoryDeadLetters(),
        max_depth=MAX_DEPTH,
    )

    @pipeline.agent(f"{hears}_player", subscription=f"type = {hears}")
    def hit(event: AgentEvent) -> AgentEvent:
        return event.derive(answers, {"n": event.payload["n"] + 1})

    return pipeline


@contextlib.asynccontextmanager
async def running(*pipelines: Pipeline) -> AsyncIterator[None]:
    runs = [asyncio.create_task(p.run(forever=True)) for p in pipelines]
    try:
        yield
    finally:
        for pipeline in pipelines:
            await pipeline.stop()
        await asyncio.gather(*runs)


def letters_of(pipeline: Pipeline) -> MemoryDeadLetters:
    letters = pipeline.dead_letter_sink
    assert isinstance(letters, MemoryDeadLetters)
    return letters


async def test_a_ping_pong_between_two_pipelines_stops_at_max_depth(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    pings = await create_topic(kafka_config, topic_name + "_ping", partitions=1)
    pongs = await create_topic(kafka_config, topic_name + "_pong", partitions=1)
    left = player(kafka_config, "ping", "pong", reads=pings, writes=pongs)
    right = player(kafka_config, "pong", "ping", reads=pongs, writes=pings)
    await produce(kafka_config, pings, [AgentEvent(event_type="ping", payload={"n": 0})])

    async with running(left, right):
        async with asyncio.timeout(30):  # without the header it never stops
            while not letters_of(left).letters and not letters_of(right).letters:
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # and nothing goes on after it

    # ping 0 (a source event, depth 0) → pong 1 (depth 1) → ... → pong 5 (depth 5) → the
    # ping 6 at depth 6 > max_depth=5 is dead-lettered by the right player
    assert letters_of(left).letters == []
    [letter] = letters_of(right).letters
    assert letter.stage is FailureStage.ROUTING
    assert letter.error_type == "RecursionError"
    assert f"max_depth={MAX_DEPTH}" in letter.message
    assert letter.event is not None
    assert letter.event.payload == {"n": 6}
    assert letter.agent_id == "pong_player"
    ping_ns = [e.payload["n"] for e in await read_all(kafka_config, pings, idle=1.0)]
    pong_ns = [e.payload["n"] for e in await read_all(kafka_config, pongs, idle=1.0)]
    assert (ping_ns, pong_ns) == ([0, 2, 4], [1, 3, 5])


def test_the_depth_header_is_read_back_and_bad_values_count_as_zero() -> None:
    assert read_depth([("event_type", b"x"), (DEPTH_HEADER, b"7")]) == 7
    assert read_depth([]) == read_depth(None) == 0
    for bad in (b"", b"-3", b"seven", b"1e3", b"9" * 400):
        assert read_depth([(DEPTH_HEADER, bad)]) == 0
