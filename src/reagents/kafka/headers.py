"""Record headers that carry what an event does not: causation depth and trace context.

In one process a pipeline counts how many reactions deep each event is and dead-letters
a reaction deeper than ``max_depth`` (a runaway cycle). A `KafkaSink` writes that depth
into ``reagents-depth`` and a `KafkaSource` reads it back, so agents ping-ponging over
Kafka hit the same limit. A record without the header (or with a value that is not
a plain decimal number) starts at depth 0, as any outside record does.

The W3C trace context of an event (``traceparent``, ``tracestate``) travels in the
event itself and, for tools that never decode values, in the headers of those names
(as OpenTelemetry's Kafka instrumentations write them). A source fills an event's
empty ``traceparent`` from its record's header, so a trace started by another
producer carries on; a malformed header is ignored, as the W3C spec asks.
"""

from __future__ import annotations

from collections.abc import Iterable

from reagents.events import AgentEvent

__all__ = [
    "DEPTH_HEADER",
    "TRACEPARENT_HEADER",
    "TRACESTATE_HEADER",
    "depth_header",
    "read_depth",
    "read_headers",
    "trace_headers",
    "with_trace_context",
]

DEPTH_HEADER = "reagents-depth"
TRACEPARENT_HEADER = "traceparent"
TRACESTATE_HEADER = "tracestate"

RecordHeaders = Iterable[tuple[str, bytes]] | None


def depth_header(depth: int) -> tuple[str, bytes]:
    """The header saying an event is ``depth`` reactions deep."""
    return (DEPTH_HEADER, str(depth).encode())


def _depth(value: object) -> int:
    if isinstance(value, bytes) and 0 < len(value) <= 9 and value.isdigit():
        return int(value)
    return 0


def read_depth(headers: RecordHeaders) -> int:
    """The depth a record's ``headers`` carry (0 when none or not a sane number)."""
    for key, value in headers or ():
        if key == DEPTH_HEADER:
            return _depth(value)
    return 0


def read_headers(headers: RecordHeaders) -> tuple[int, bytes | None, bytes | None]:
    """The depth, ``traceparent`` and ``tracestate`` a record's headers carry, in one pass
    (depth 0 and None for what is missing; the trace headers are not checked here)."""
    depth, parent, state = 0, None, None
    for key, value in headers or ():
        if key == DEPTH_HEADER:
            depth = _depth(value)
        elif key == TRACEPARENT_HEADER:
            parent = value
        elif key == TRACESTATE_HEADER:
            state = value
    return depth, parent, state


def trace_headers(event: AgentEvent) -> list[tuple[str, bytes]]:
    """The headers carrying ``event``'s trace context (none when it has none)."""
    if event.traceparent is None:
        return []
    headers = [(TRACEPARENT_HEADER, event.traceparent.encode())]
    if event.tracestate:
        headers.append((TRACESTATE_HEADER, event.tracestate.encode()))
    return headers


def with_trace_context(event: AgentEvent, parent: bytes, state: bytes | None) -> AgentEvent:
    """``event`` with the trace context of its record's headers, if it had none (a
    malformed ``traceparent`` leaves it as it is; validated as the event's own field)."""
    if event.traceparent is not None or not isinstance(parent, bytes):
        return event
    fields = {"traceparent": parent.decode("ascii", "replace")}
    if isinstance(state, bytes):
        fields["tracestate"] = state.decode("ascii", "replace")
    checked = AgentEvent.model_validate(fields | {"event_type": event.event_type})
    if checked.traceparent is None:
        return event
    update = {"traceparent": checked.traceparent, "tracestate": checked.tracestate}
    return event.model_copy(update=update)
