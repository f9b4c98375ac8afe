"""Tracing a pipeline: spans per handling, one trace per conversation, HTTP to reactions."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.otel import instrument, traceparent_of, uninstrument, with_current_trace
from reagents.policies import Backoff
from tests.server.live import live_server

QUICK = Backoff(max_retries=2, initial=0.001, jitter=0)


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    yield spans
    spans.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield tracer_provider
    tracer_provider.shutdown()


def by_name(exporter: InMemorySpanExporter) -> dict[str, list[ReadableSpan]]:
    found: dict[str, list[ReadableSpan]] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def only(spans: dict[str, list[ReadableSpan]], name: str) -> ReadableSpan:
    assert len(spans[name]) == 1, spans[name]
    return spans[name][0]


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def ids(span: ReadableSpan) -> tuple[int, int]:
    ctx = span.get_span_context()
    assert ctx is not None
    return ctx.trace_id, ctx.span_id


def chain(tracer: trace.Tracer) -> tuple[Pipeline, MemorySink]:
    """ticket → triage → ticket.routed → billing → ticket.billed → sink ``kept``
    (billing opens a span of its own with ``tracer``)."""
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    kept = pipeline.add_sink(MemorySink("type = ticket.billed", name="kept"))

    @pipeline.agent("triage", subscription="type = ticket")
    def triage(event: AgentEvent) -> AgentEvent:
        return event.derive("ticket.routed", {"queue": "billing"})

    @pipeline.agent("billing", subscription="type = ticket.routed")
    async def billing(event: AgentEvent) -> AgentEvent:
        with tracer.start_as_current_span("lookup invoice"):
            await asyncio.sleep(0)
        return event.derive("ticket.billed", {"amount": 12})

    return pipeline, kept


async def test_http_request_to_the_last_reaction_is_one_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    pipeline, kept = chain(provider.get_tracer("handler"))
    instrument(pipeline, provider)
    client_tracer = provider.get_tracer("client")
    async with live_server(pipeline) as live:
        with client_tracer.start_as_current_span("client call", kind=SpanKind.CLIENT):
            headers: dict[str, str] = {}
            TraceContextTextMapPropagator().inject(headers)
            answer = await live.client.post(
                "/events", json={"event_type": "ticket", "correlation_id": "c-1"}, headers=headers
            )
        assert answer.status_code == 202, answer.text
        await pipeline.wait_idle()
    (event_id,) = answer.json()["ids"]
    spans = by_name(exporter)
    client = only(spans, "client call")
    triage, billing = only(spans, "handle triage"), only(spans, "handle billing")
    lookup, write = only(spans, "lookup invoice"), only(spans, "write kept")
    trace_id = ids(client)[0]
    assert {ids(s)[0] for s in (triage, billing, lookup, write)} == {trace_id}
    assert parent_id(triage) == ids(client)[1]
    assert parent_id(billing) == ids(triage)[1]
    assert parent_id(lookup) == ids(billing)[1]  # the handler's own span nests under it
    assert parent_id(write) == ids(billing)[1]
    assert triage.kind is SpanKind.CONSUMER
    assert write.kind is SpanKind.PRODUCER
    assert dict(triage.attributes or {}) == {
        "reagents.agent.id": "triage",
        "reagents.event.id": event_id,
        "reagents.event.type": "ticket",
        "reagents.event.source_agent": "external",
        "reagents.correlation_id": "c-1",
        "reagents.attempt": 1,
        "reagents.outcome": "handled",
        "reagents.emitted": 1,
    }
    (billed,) = kept.events
    assert billed.traceparent is not None
    assert billed.traceparent.split("-")[1:3] == [f"{trace_id:032x}", f"{ids(billing)[1]:016x}"]


async def test_a_conversation_without_trace_context_starts_its_own_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    pipeline, _ = chain(provider.get_tracer("handler"))
    instrument(pipeline, provider)
    with provider.get_tracer("test").start_as_current_span("around the pipeline"):
        async with pipeline.serving():  # worker tasks copy this context: it must not leak
            pipeline.publish(AgentEvent(event_type="ticket"))
            pipeline.publish(AgentEvent(event_type="ticket"))
            await pipeline.wait_idle()
    spans = by_name(exporter)
    roots = spans["handle triage"]
    assert len(roots) == 2
    assert all(s.parent is None for s in roots)
    assert len({ids(s)[0] for s in roots}) == 2  # two conversations, two traces
    for billing in spans["handle billing"]:
        (cause,) = [s for s in roots if ids(s)[1] == parent_id(billing)]
        assert ids(cause)[0] == ids(billing)[0]


async def test_failed_attempts_are_spans_with_their_outcome(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    pipeline = Pipeline("flaky", dead_letters=MemoryDeadLetters())
    tries: Counter[str] = Counter()

    @pipeline.agent("flaky", subscription="type = job", retry=QUICK)
    def flaky(event: AgentEvent) -> None:
        tries[event.event_id] += 1
        if tries[event.event_id] <= event.payload["fail"]:
            raise RuntimeError("not yet")

    instrument(pipeline, provider)
    async with pipeline.serving():
        pipeline.publish(AgentEvent(event_type="job", payload={"fail": 1}))
        await pipeline.wait_idle()
        pipeline.publish(AgentEvent(event_type="job", payload={"fail": 9}))
        await pipeline.wait_idle()
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time or 0)
    seen = [(s.attributes or {}).get("reagents.attempt") for s in spans]
    outcomes = [(s.attributes or {}).get("reagents.outcome") for s in spans]
    assert seen == [1, 2, 1, 2, 3]
    assert outcomes == ["retried", "handled", "retried", "retried", "dead_lettered"]
    assert [s.status.status_code for s in spans] == [
        StatusCode.ERROR,
        StatusCode.UNSET,
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.ERROR,
    ]
    assert spans[0].events[0].name == "exception"
    assert spans[0].status.description == "RuntimeError: not yet"


async def test_uninstrument_stops_tracing_and_reactions_keep_their_context(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    pipeline, kept = chain(provider.get_tracer("handler"))
    instrument(pipeline, provider)
    uninstrument(pipeline)
    with provider.get_tracer("test").start_as_current_span("caller") as caller:
        event = with_current_trace(AgentEvent(event_type="ticket"))
    assert event.traceparent == traceparent_of(caller.get_span_context())[0]
    async with pipeline.serving():
        pipeline.publish(event)
        await pipeline.wait_idle()
    assert [s.name for s in exporter.get_finished_spans()] == ["caller", "lookup invoice"]
    assert kept.events[0].traceparent == event.traceparent  # inherited, hop by hop


def test_with_current_trace_outside_a_span_changes_nothing() -> None:
    event = AgentEvent(event_type="ticket")
    assert with_current_trace(event) is event


async def test_a_handling_cut_short_by_stop_ends_its_span_as_cancelled(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    pipeline = Pipeline("stuck", dead_letters=MemoryDeadLetters(), drain_timeout=0.05)
    started = asyncio.Event()

    @pipeline.agent("waiter", subscription="type = job")
    async def waiter(event: AgentEvent) -> None:
        started.set()
        await asyncio.Event().wait()

    instrument(pipeline, provider)
    async with pipeline.serving():
        pipeline.publish(AgentEvent(event_type="job"))
        await started.wait()
    (span,) = exporter.get_finished_spans()
    assert (span.attributes or {})["reagents.outcome"] == "cancelled"
    assert span.status.status_code is StatusCode.UNSET
    assert trace.get_current_span() is trace.INVALID_SPAN  # nothing left attached here
