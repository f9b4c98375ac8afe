"""``/readyz`` names what is not ready: the pipeline, a source that failed, or Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from reagents import AgentEvent, Pipeline
from reagents.delivery import Incoming
from reagents.kafka import EmbeddedBroker, KafkaConfig, TopicSpec, ensure_topics
from reagents.server import create_app
from reagents.sources.base import Source
from reagents.sources.kafka import KafkaSource
from reagents.sources.memory import MemorySource
from tests.server.live import live_server


async def test_ready_lists_every_source_as_ok() -> None:
    pipeline = Pipeline("p", sources=[MemorySource(name="feed")])
    async with live_server(pipeline) as live:
        answer = await live.client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {
        "ready": True,
        "checks": {"pipeline": "ok", "source:feed": "ok"},
        "failing": {},
    }


async def test_not_running_is_503_naming_the_pipeline() -> None:
    app = create_app(Pipeline("p"), run_pipeline=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failing"] == {"pipeline": "not running"}


class Breaks(Source):
    """A source that fails when told to."""

    def __init__(self, name: str, go: asyncio.Event) -> None:
        self.name = name
        self.go = go

    async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
        await self.go.wait()
        raise RuntimeError("disk gone")
        yield []  # a generator


async def test_a_failed_source_is_503_with_its_error_while_the_pipeline_winds_down() -> None:
    go, release = asyncio.Event(), asyncio.Event()
    pipeline = Pipeline("p", sources=[Breaks("bad", go)], drain_timeout=5)
    started = asyncio.Event()

    @pipeline.agent(id="slow", subscription="type = hold")
    async def slow(event: AgentEvent) -> None:
        started.set()
        await release.wait()

    app = create_app(pipeline, run_pipeline=False)
    transport = httpx.ASGITransport(app=app)
    run = asyncio.create_task(pipeline.run(forever=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        await pipeline.wait_started()
        assert (await client.get("/readyz")).status_code == 200
        pipeline.publish(AgentEvent(event_type="hold"))
        await started.wait()
        go.set()
        async with asyncio.timeout(5):
            while (answer := await client.get("/readyz")).status_code == 200:
                await asyncio.sleep(0.01)
        release.set()
    assert answer.status_code == 503
    failing = answer.json()["failing"]
    assert failing == {"source:bad": "failed: RuntimeError: disk gone"}
    with pytest.raises(Exception, match="disk gone"):
        await run


@pytest.mark.kafka
async def test_a_kafka_source_is_ready_while_its_brokers_answer() -> None:
    with EmbeddedBroker() as broker:
        config = KafkaConfig(bootstrap_servers=broker.bootstrap, connect_attempts=2)
        await ensure_topics(config, [TopicSpec(name="ready", partitions=1)])
        source = KafkaSource("ready", group_id=None, config=config, name="orders")
        pipeline = Pipeline("p", sources=[source])
        async with live_server(pipeline) as live:
            async with asyncio.timeout(20):
                while (answer := await live.client.get("/readyz")).status_code != 200:
                    await asyncio.sleep(0.05)
            assert answer.json()["checks"]["source:orders"] == "ok"
            broker.stop()
            answer = await live.client.get("/readyz")
            assert answer.status_code == 503
            reason = answer.json()["failing"]["source:orders"]
            assert reason.startswith("Kafka brokers unreachable: KafkaError"), reason
