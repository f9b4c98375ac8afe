"""``GET /metrics`` over a real socket: what Prometheus reads is what the pipeline did."""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pydantic import SecretStr

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.pipelines.latency import LATENCY_BOUNDS
from reagents.policies import Backoff
from reagents.server import Scope, ServerSettings, Token
from tests.server.live import live_server

READER = "r" * 20
PUBLISHER = "p" * 20


def _settings() -> ServerSettings:
    return ServerSettings(
        tokens=(
            Token(name="reader", token=SecretStr(READER), scopes=frozenset({Scope.READ})),
            Token(name="pub", token=SecretStr(PUBLISHER), scopes=frozenset({Scope.PUBLISH})),
        )
    )


def _pipeline() -> Pipeline:
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_sink(MemorySink("type = doubled", name="kept"))

    @pipeline.agent(
        "doubler", subscription="type = num", retry=Backoff(max_retries=1, initial=0.001)
    )
    def doubler(event: AgentEvent) -> AgentEvent:
        if event.payload["n"] % 5 == 0:
            raise ValueError("multiples of five are refused")
        return event.derive("doubled", {"n": 2 * event.payload["n"]})

    return pipeline


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            assert isinstance(sample, Sample)
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _agent(name: str, agent: str, **extra: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (name, tuple(sorted({"pipeline": "shop", "agent": agent, **extra}.items())))


async def test_metrics_report_what_the_pipeline_did() -> None:
    pipeline = _pipeline()
    async with live_server(pipeline, _settings()) as live:
        for n in range(20):
            pipeline.publish(AgentEvent(event_type="num", payload={"n": n}))
        await pipeline.wait_idle()
        answer = await live.client.get("/metrics", headers=live.authed(READER))
        stats = pipeline.stats()
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    got = _samples(answer.text)
    expected = {"received": 20, "processed": 16, "failed": 8, "retried": 4, "dead_lettered": 4}
    for field, value in {**expected, "emitted": 16, "queue_depth": 0, "in_flight": 0}.items():
        suffix = "_total" if field not in ("queue_depth", "in_flight") else ""
        assert got[_agent(f"reagents_agent_{field}{suffix}", "doubler")] == value, field
        assert getattr(stats["doubler"], field) == value
    assert got[_agent("reagents_agent_processed_total", "sink:kept")] == 16
    bus = {"pipeline": "shop"}.items()
    counters = pipeline.counters
    assert got[("reagents_events_ingested_total", tuple(bus))] == counters.ingested == 20
    assert got[("reagents_events_emitted_total", tuple(bus))] == counters.emitted == 16
    assert got[("reagents_dead_letters_total", tuple(bus))] == counters.dead_letters == 4
    assert got[("reagents_pipeline_in_flight", tuple(bus))] == 0


async def test_latency_histogram_counts_every_handled_event_of_the_run() -> None:
    pipeline = _pipeline()
    async with live_server(pipeline, _settings()) as live:
        for n in range(1, 5001):  # more than the 4,096 latencies the p50/p99 sample keeps
            pipeline.publish(AgentEvent(event_type="num", payload={"n": n}))
            if n % 500 == 0:
                await pipeline.wait_idle()
        await pipeline.wait_idle()
        text = (await live.client.get("/metrics", headers=live.authed(READER))).text
        histogram = pipeline.stats().latency["doubler"]
    got = _samples(text)
    les = [repr(bound) for bound in LATENCY_BOUNDS] + ["+Inf"]
    buckets = [got[_agent("reagents_agent_latency_seconds_bucket", "doubler", le=le)] for le in les]
    assert buckets == sorted(buckets)  # cumulative
    assert buckets[-1] == got[_agent("reagents_agent_latency_seconds_count", "doubler")] == 4000
    assert buckets == list(histogram.cumulative)
    total = got[_agent("reagents_agent_latency_seconds_sum", "doubler")]
    assert math.isclose(total, histogram.sum)
    assert 0 < total < 4000 * 10


async def test_metrics_need_the_read_scope() -> None:
    async with live_server(_pipeline(), _settings()) as live:
        assert (await live.client.get("/metrics")).status_code == 401
        refused = await live.client.get("/metrics", headers=live.authed(PUBLISHER))
        assert refused.status_code == 403
        assert (await live.client.get("/metrics", headers=live.authed(READER))).status_code == 200


async def test_an_empty_pipeline_has_families_but_no_agent_samples() -> None:
    async with live_server(Pipeline("shop"), _settings()) as live:
        text = (await live.client.get("/metrics", headers=live.authed(READER))).text
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"reagents_agent_received", "reagents_agent_latency_seconds"} <= names
    assert "agent=" not in text
