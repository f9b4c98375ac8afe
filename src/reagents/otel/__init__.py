"""OpenTelemetry tracing of a pipeline (extra ``reagents[otel]``): one trace per conversation.

    from reagents.otel import instrument
    instrument(pipeline)                    # the global tracer provider, or pass one

Every handling by an agent (or write by a sink) becomes a span, with the agent, event
id and type, conversation, attempt and outcome as attributes. Its parent is the
span the event's ``traceparent`` names (copied from an HTTP request's header, or from
a Kafka record's), and the agent's reactions carry this span's context in their own
``traceparent``, in process and across Kafka, so a conversation that hops through
several agents and processes is one trace. Works in any process that runs a pipeline
(a Kafka worker without the HTTP server too). Without `instrument` nothing is traced
and the runtime pays one ``is not None`` check per handling.
"""

from __future__ import annotations

from reagents.extras import MissingExtraError, has_module

if not has_module("opentelemetry"):
    raise MissingExtraError("tracing needs OpenTelemetry: pip install 'reagents[otel]'")

from reagents.otel.tracing import (
    TracingObserver,
    instrument,
    traceparent_of,
    uninstrument,
    with_current_trace,
)

__all__ = [
    "TracingObserver",
    "instrument",
    "traceparent_of",
    "uninstrument",
    "with_current_trace",
]
