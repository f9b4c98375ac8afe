"""``GET /metrics``: the pipeline's counters in the Prometheus text format (scope ``read``).

Nothing is paid per event for it: a `PipelineCollector` reads the pipeline's own stats
when Prometheus scrapes (each agent's and sink's counters, queue depth, in-flight
count and whole-run latency histogram; the bus counters; the lag of every source that
reports one, i.e. Kafka consumer lag per partition). Each scrape builds its own
`CollectorRegistry`, so the process-wide default registry is never touched and two
apps in one process never collide.

Every sample carries the ``pipeline`` label; per-agent ones also ``agent`` (a sink is
``sink:<name>``), lag ones ``source``, ``topic`` and ``partition``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol, runtime_checkable

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.stats import StatsTable
from reagents.server.auth import require
from reagents.server.settings import Scope

__all__ = ["LagReporting", "PipelineCollector", "router", "source_lags"]

router = APIRouter(tags=["metrics"])

_AGENT_COUNTERS = (
    ("received", "Events routed to the agent"),
    ("processed", "Events the agent handled"),
    ("failed", "Handler failures (each attempt)"),
    ("retried", "Failures that were retried"),
    ("dead_lettered", "Events the agent dead-lettered"),
    ("emitted", "Events the agent put on the bus"),
    ("filter_errors", "Events its subscription filter raised on"),
    ("model_requests", "An LLM agent's requests to its model"),
    ("input_tokens", "An LLM agent's input tokens"),
    ("output_tokens", "An LLM agent's output tokens"),
    ("cost_usd", "An LLM agent's cost in USD"),
)
_AGENT_GAUGES = (
    ("queue_depth", "Events waiting for a worker (and for a retry)"),
    ("in_flight", "Events being handled now"),
)


@runtime_checkable
class LagReporting(Protocol):
    """A source that says how far behind it is, by partition (`KafkaSource`)."""

    name: str

    async def lag(self) -> dict[str, int]:
        """Records behind, by partition (``topic[n]``)."""
        ...


async def source_lags(pipeline: Pipeline) -> dict[str, dict[str, int]]:
    """The lag of every source of ``pipeline`` that reports one, by source name."""
    return {
        source.name: await source.lag()
        for source in pipeline.sources
        if isinstance(source, LagReporting)
    }


class PipelineCollector(Collector):
    """Reads a pipeline's stats at collection time (``lags`` were gathered just before)."""

    def __init__(
        self, pipeline: Pipeline, lags: Mapping[str, Mapping[str, int]] | None = None
    ) -> None:
        self.pipeline = pipeline
        self.lags = lags or {}

    def collect(self) -> Iterator[Metric]:
        """Every metric family, read now."""
        name = self.pipeline.name
        table = self.pipeline.stats()
        yield from _agent_families(name, table)
        yield _latency(name, table)
        counters = self.pipeline.counters
        for metric, doc, value in (
            ("events_ingested", "Events read from sources onto the bus", counters.ingested),
            ("events_emitted", "Events agents put on the bus", counters.emitted),
            ("dead_letters", "Dead letters written", counters.dead_letters),
            (
                "subscriber_failures",
                "Raises of subscribers of Pipeline.events",
                counters.subscriber_failures,
            ),
        ):
            family = CounterMetricFamily(f"reagents_{metric}", doc, labels=["pipeline"])
            family.add_metric([name], value)
            yield family
        in_flight = GaugeMetricFamily(
            "reagents_pipeline_in_flight",
            "Deliveries to agents and sinks not yet handled or dead-lettered",
            labels=["pipeline"],
        )
        in_flight.add_metric([name], self.pipeline.in_flight)
        yield in_flight
        yield self._lag(name)

    def _lag(self, pipeline: str) -> Metric:
        family = GaugeMetricFamily(
            "reagents_source_lag_records",
            "Records a source has not read yet (Kafka: high watermark minus position)",
            labels=["pipeline", "source", "topic", "partition"],
        )
        for source, lags in self.lags.items():
            for label, lag in lags.items():
                topic, _, rest = label.rpartition("[")
                family.add_metric([pipeline, source, topic, rest.rstrip("]")], lag)
        return family


def _agent_families(pipeline: str, table: StatsTable) -> Iterator[Metric]:
    labels = ["pipeline", "agent"]
    for field, doc in _AGENT_COUNTERS:
        family = CounterMetricFamily(f"reagents_agent_{field}", doc, labels=labels)
        for agent, snapshot in table.items():
            family.add_metric([pipeline, agent], getattr(snapshot, field))
        yield family
    for field, doc in _AGENT_GAUGES:
        gauge = GaugeMetricFamily(f"reagents_agent_{field}", doc, labels=labels)
        for agent, snapshot in table.items():
            gauge.add_metric([pipeline, agent], getattr(snapshot, field))
        yield gauge


def _latency(pipeline: str, table: StatsTable) -> Metric:
    family = HistogramMetricFamily(
        "reagents_agent_latency_seconds",
        "Time from routing an event to the agent to having handled it, whole run",
        labels=["pipeline", "agent"],
    )
    for agent, buckets in table.latency.items():
        bounds = [_go_float(bound) for bound in buckets.bounds] + ["+Inf"]
        counts = list(zip(bounds, buckets.cumulative, strict=True))
        family.add_metric([pipeline, agent], counts, buckets.sum)
    return family


def _go_float(bound: float) -> str:
    """A bucket bound as Prometheus writes ``le`` (``1e-05``, ``0.1``, ``100.0``)."""
    return repr(float(bound))


@router.get("/metrics", response_class=Response, dependencies=[Depends(require(Scope.READ))])
async def metrics(request: Request) -> Response:
    """The pipeline's metrics in the Prometheus text format (scope ``read``)."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PipelineCollector(pipeline, await source_lags(pipeline)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
