"""Trace context across Kafka: record headers both ways, one trace from an HTTP POST
through a pipeline and a Kafka topic into a second process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reagents import AgentEvent, MemoryDeadLetters, Pipeline
from reagents.events import encode_event
from reagents.kafka import KafkaConfig
from reagents.kafka.producer import ReliableProducer
from reagents.otel import instrument
from reagents.sinks.kafka import KafkaSink
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic
from tests.server.live import live_server

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def read_events(config: KafkaConfig, topic: str, count: int) -> list[AgentEvent]:
    source = KafkaSource(topic, group_id=None, config=config, start="earliest")
    found: list[AgentEvent] = []
    try:
        async with asyncio.timeout(30):
            async for batch in source.batches():
                for incoming in batch:
                    assert isinstance(incoming.item, AgentEvent)
                    found.append(incoming.item)
                    incoming.ack()
                if len(found) >= count:
                    break
    finally:
        await source.close()
    return found


async def test_a_traceparent_header_fills_an_event_without_one(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    own = "00-11111111111111111111111111111111-2222222222222222-01"
    records = [
        (
            AgentEvent(event_type="plain"),
            [("traceparent", PARENT.encode()), ("tracestate", b"k=v")],
        ),
        (AgentEvent(event_type="own", traceparent=own), [("traceparent", PARENT.encode())]),
        (AgentEvent(event_type="bad"), [("traceparent", b"00-not-a-trace-01")]),
        (AgentEvent(event_type="none"), []),
    ]
    producer = ReliableProducer(kafka_config)
    try:
        for event, headers in records:
            await producer.send(topic, encode_event(event), None, headers)
        await producer.flush()
    finally:
        await producer.stop()
    got = {e.event_type: e for e in await read_events(kafka_config, topic, len(records))}
    assert (got["plain"].traceparent, got["plain"].tracestate) == (PARENT, "k=v")
    assert got["own"].traceparent == own  # the event's own field wins
    assert got["bad"].traceparent is None  # malformed: ignored, as W3C asks
    assert got["none"].traceparent is None


def start_settler(bootstrap: str, topic: str, spans: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.kafka.trace_worker", bootstrap, topic, str(spans)]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with open(spans.with_suffix(".log"), "ab") as log:
        return subprocess.Popen([*command, "--idle", "2"], cwd=ROOT, env=env, stderr=log)


async def test_one_conversation_is_one_trace_from_http_across_kafka_and_processes(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    sink = KafkaSink(topic, "type = ticket.routed", config=kafka_config)
    pipeline = Pipeline("desk", sinks=[sink], dead_letters=MemoryDeadLetters())

    @pipeline.agent("triage", subscription="type = ticket")
    def triage(event: AgentEvent) -> AgentEvent:
        return event.derive("ticket.routed")

    instrument(pipeline, provider)
    async with live_server(pipeline) as live:  # the conversation starts with an HTTP POST
        answer = await live.client.post(
            "/events", json={"event_type": "ticket"}, headers={"traceparent": PARENT}
        )
        assert answer.status_code == 202, answer.text
        async with asyncio.timeout(20):
            while sink.sent < 1:
                await asyncio.sleep(0.02)
    (handled,) = [s for s in exporter.get_finished_spans() if s.name == "handle triage"]
    context = handled.get_span_context()
    assert context is not None

    spans = tmp_path / "spans.jsonl"
    settler = start_settler(kafka_config.bootstrap_servers, topic, spans)
    deadline = time.monotonic() + 60
    while settler.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if settler.poll() is None:
        settler.kill()
    assert settler.wait() == 0, spans.with_suffix(".log").read_text()
    remote = [json.loads(line) for line in spans.read_text().splitlines()]
    (settle,) = [s for s in remote if s["name"] == "handle settle"]
    assert settle["trace_id"] == PARENT.split("-")[1] == f"{context.trace_id:032x}"
    assert settle["parent_id"] == f"{context.span_id:016x}"  # the triage span, over Kafka
    assert settle["attributes"]["reagents.event.type"] == "ticket.routed"
    provider.shutdown()
