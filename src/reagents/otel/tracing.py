"""`TracingObserver`: a span per handling, parented by the event's ``traceparent``.

The observer implements the runtime's `HandlingObserver` hook. `start` opens a span
whose parent is the context the event's W3C ``traceparent``/``tracestate`` name (a
new trace when it has none: never the ambient context of the worker task, which is
whatever was current when the pipeline started) and makes it current while the
handler runs, so spans the handler opens (an HTTP call, a model request) nest under
it. `handled` stamps the span's context on the reactions that inherited their cause's
trace context (``derive`` copies it), so the next hop is this span's child.

    HTTP traceparent ─▶ event ─▶ [handle triage] ─▶ reaction ─▶ [handle billing] ─▶ …
                                   span A            traceparent=A   span B (child of A)
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from opentelemetry import context, trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from reagents.dead_letter import FailureStage
from reagents.events import AgentEvent
from reagents.pipelines.handling import Outcome
from reagents.pipelines.pipeline import Pipeline

__all__ = [
    "TracingObserver",
    "instrument",
    "traceparent_of",
    "uninstrument",
    "with_current_trace",
]

_PROPAGATOR = TraceContextTextMapPropagator()


def _version() -> str:
    try:
        return version("reagents")
    except PackageNotFoundError:  # a source checkout on sys.path
        return "0"


def traceparent_of(span_context: SpanContext) -> tuple[str, str | None]:
    """The W3C ``traceparent`` and ``tracestate`` (None when empty) of ``span_context``."""
    parent = (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-"
        f"{int(span_context.trace_flags):02x}"
    )
    return parent, span_context.trace_state.to_header() or None


def with_current_trace(event: AgentEvent) -> AgentEvent:
    """``event`` as a child of the span current here (itself when none is recording):
    publish an event from code inside your own span and its handling joins your trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return event
    parent, state = traceparent_of(span_context)
    return event.model_copy(update={"traceparent": parent, "tracestate": state})


def _parent_context(event: AgentEvent) -> Context:
    """The context ``event``'s trace fields name; an empty one (a new trace) without."""
    if event.traceparent is None:
        return Context()
    carrier = {"traceparent": event.traceparent}
    if event.tracestate:
        carrier["tracestate"] = event.tracestate
    return _PROPAGATOR.extract(carrier, context=Context())


class _Handling:
    """One open span, current in the worker task until the handling ends."""

    __slots__ = ("cause", "span", "token")

    def __init__(self, span: trace.Span, cause: AgentEvent) -> None:
        self.span = span
        self.cause = cause
        self.token = context.attach(trace.set_span_in_context(span))

    def handled(self, outputs: list[AgentEvent]) -> list[AgentEvent]:
        span = self.span
        span.set_attribute("reagents.outcome", "handled")
        span.set_attribute("reagents.emitted", len(outputs))
        if outputs and span.get_span_context().is_valid:
            outputs = self._stamped(outputs)
        self._end()
        return outputs

    def _stamped(self, outputs: list[AgentEvent]) -> list[AgentEvent]:
        parent, state = traceparent_of(self.span.get_span_context())
        inherited = self.cause.traceparent
        update = {"traceparent": parent, "tracestate": state}
        return [
            e.model_copy(update=update) if e.traceparent in (None, inherited) else e
            for e in outputs
        ]

    def failed(self, error: BaseException, outcome: Outcome) -> None:
        span = self.span
        span.set_attribute("reagents.outcome", outcome)
        if outcome != "cancelled":
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
        self._end()

    def _end(self) -> None:
        context.detach(self.token)
        self.span.end()


class TracingObserver:
    """Opens a span for every handling of the runners it observes (see the module doc)."""

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer = trace.get_tracer("reagents", _version(), tracer_provider=tracer_provider)

    def start(
        self, runner_id: str, event: AgentEvent, attempt: int, stage: FailureStage
    ) -> _Handling:
        """Open the span of ``runner_id`` handling ``event`` and make it current."""
        sink = stage is FailureStage.SINK
        span = self.tracer.start_span(
            f"write {runner_id.removeprefix('sink:')}" if sink else f"handle {runner_id}",
            context=_parent_context(event),
            kind=SpanKind.PRODUCER if sink else SpanKind.CONSUMER,
            attributes={
                "reagents.agent.id": runner_id,
                "reagents.event.id": event.event_id,
                "reagents.event.type": event.event_type,
                "reagents.event.source_agent": event.source_agent,
                "reagents.correlation_id": event.conversation_id,
                "reagents.attempt": attempt,
            },
        )
        return _Handling(span, event)


def instrument(
    pipeline: Pipeline, tracer_provider: TracerProvider | None = None
) -> TracingObserver:
    """Trace every handling of ``pipeline``'s agents and sinks with ``tracer_provider``
    (the global one by default); returns the observer now installed. Instrument each
    pipeline a process runs (one made by `Pipeline.only` too)."""
    observer = TracingObserver(tracer_provider)
    pipeline.observe(observer)
    return observer


def uninstrument(pipeline: Pipeline) -> None:
    """Stop tracing ``pipeline`` (handlings already under way still end their spans)."""
    pipeline.observe(None)
