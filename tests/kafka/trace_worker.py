"""The second process of the Kafka tracing test: handle a topic, export spans as JSON.

    python -m tests.kafka.trace_worker BOOTSTRAP TOPIC SPANS [--idle S]

It reads TOPIC from the start (no group), lets agent ``settle`` react to every
``ticket.routed`` event, traces the pipeline with `reagents.otel.instrument` and
writes every finished span to SPANS, one JSON object a line (name, trace id, span
id, parent span id, attributes). It ends after ``--idle`` seconds without records.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from reagents import AgentEvent, MemoryDeadLetters, Pipeline
from reagents.kafka import KafkaConfig
from reagents.otel import instrument
from reagents.sources.kafka import KafkaSource


def as_json(span: ReadableSpan) -> str:
    """One span as a JSON line (ids in hex, as in ``traceparent``)."""
    context = span.get_span_context()
    assert context is not None
    return (
        json.dumps(
            {
                "name": span.name,
                "trace_id": f"{context.trace_id:032x}",
                "span_id": f"{context.span_id:016x}",
                "parent_id": f"{span.parent.span_id:016x}" if span.parent else None,
                "attributes": dict(span.attributes or {}),
            }
        )
        + "\n"
    )


def exporting_to(out: IO[str]) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=as_json))
    )
    return provider


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    for name in ("bootstrap", "topic", "spans"):
        parser.add_argument(name)
    parser.add_argument("--idle", type=float, default=3.0)
    args = parser.parse_args(argv)
    config = KafkaConfig(bootstrap_servers=args.bootstrap)
    source = KafkaSource(
        args.topic, group_id=None, config=config, start="earliest", stop_when_idle=args.idle
    )
    pipeline = Pipeline("settler", sources=[source], dead_letters=MemoryDeadLetters())

    @pipeline.agent("settle", subscription="type = ticket.routed")
    def settle(event: AgentEvent) -> AgentEvent:
        return event.derive("ticket.settled")

    with open(args.spans, "w", buffering=1) as out:
        provider = exporting_to(out)
        instrument(pipeline, provider)
        await pipeline.run()
        provider.shutdown()
    print(f"consumed={source.consumed}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
