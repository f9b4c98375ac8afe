"""`Agent`: the reacting sink — a handler, the events it subscribes to, and its limits.

A handler may be sync or async and may return nothing, an event, a dict (wrapped as
an ``agent_response`` event carrying an `AgentResponse`), several of those, an async
iterator or an Observable. Whatever it returns becomes new events on the bus, stamped
with the agent as source, the input's conversation and the input as cause.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, ClassVar, TypeAlias, TypedDict

import reactivex
from reactivex import Observable

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent, AgentResponse
from reagents.operators._flow import FlowContext, FlowSpec, as_flow, build_flow
from reagents.operators.expression import where
from reagents.operators.filters import Filter, any_event
from reagents.policies import Backoff, FlowTime, ProcessingTime, RateLimit
from reagents.schemas import PayloadSchema, PayloadValidator, compile_schema

__all__ = [
    "Agent",
    "AgentOptions",
    "AsyncHandler",
    "Handler",
    "HandlerOutput",
    "HandlerOutputs",
    "HandlerResult",
    "collect_outputs",
]

HandlerOutput: TypeAlias = AgentEvent | AgentResponse | dict[str, Any]
"""One output of a handler: an event, an `AgentResponse`, or a dict (the ``result`` of
an ``agent_response`` event)."""

HandlerOutputs: TypeAlias = (
    HandlerOutput
    | Iterable[HandlerOutput]
    | AsyncIterator[HandlerOutput]
    | Observable[HandlerOutput]
    | None
)
"""What a handler's result amounts to: nothing, one output, or several of them (an
iterable, an async iterator or an Observable)."""

HandlerResult: TypeAlias = HandlerOutputs | Awaitable[HandlerOutputs]
"""What a handler returns: `HandlerOutputs`, or an awaitable of them (an ``async def``
handler's coroutine)."""

Handler: TypeAlias = Callable[[AgentEvent], HandlerResult]

AsyncHandler: TypeAlias = Callable[[AgentEvent], Awaitable[HandlerOutputs]]
"""A `Handler` whose result is always awaited (an ``async def`` handler, a wrapper)."""

RESPONSE_TYPE = "agent_response"
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]+$")


def _subscription(value: Filter | str | None, agent_id: str) -> Filter:
    if value is None:
        return any_event()
    if isinstance(value, Filter):
        return value
    if isinstance(value, str):
        return where(value)
    raise ConfigurationError(
        f"agent {agent_id!r}: subscription must be a Filter or a where(...) expression "
        f"string, not {type(value).__name__}"
    )


class AgentOptions(TypedDict, total=False):
    """The settings of an `Agent` besides its handler and id (see `Agent`)."""

    subscription: Filter | str | None
    max_concurrent: int | None
    priority: int | None
    retry: Backoff | None
    rate: RateLimit | None
    timeout: float | None
    input_schema: PayloadSchema | None
    output_schema: PayloadSchema | None
    capability: str | None
    flow: FlowSpec | None
    flow_time: FlowTime | None


class Agent:
    """An event handler with a subscription and limits; subclass it for stateful agents.

    Either pass ``handler`` or override `handle`. ``input_schema`` / ``output_schema``
    (pydantic models or JSON Schema) declare the agent's capability: an input that does
    not fit is dead-lettered without calling the handler; an output that does not fit
    fails the step like an exception would. Class attributes (``subscription``,
    ``max_concurrent``, ...) act as defaults for subclasses, so a stateful agent can be
    declared in one place::

        class Trader(Agent):
            subscription = "type = market_data AND payload.volume > 0"
            max_concurrent = 4

            async def handle(self, event):
                ...
    """

    subscription: ClassVar[Filter | str | None] = None
    max_concurrent: ClassVar[int] = 1
    priority: ClassVar[int] = 5
    retry: ClassVar[Backoff | None] = None
    rate: ClassVar[RateLimit | None] = None
    timeout: ClassVar[float | None] = None
    input_schema: ClassVar[PayloadSchema | None] = None
    output_schema: ClassVar[PayloadSchema | None] = None
    capability: ClassVar[str | None] = None
    flow: FlowSpec | None = None
    flow_time: FlowTime = ProcessingTime()

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        id: str | None = None,
        subscription: Filter | str | None = None,
        max_concurrent: int | None = None,
        priority: int | None = None,
        retry: Backoff | None = None,
        rate: RateLimit | None = None,
        timeout: float | None = None,
        input_schema: PayloadSchema | None = None,
        output_schema: PayloadSchema | None = None,
        capability: str | None = None,
        flow: FlowSpec | None = None,
        flow_time: FlowTime | None = None,
    ) -> None:
        agent_id = id or getattr(handler, "__name__", None) or _snake(type(self).__name__)
        if not _AGENT_ID.match(agent_id):
            raise ConfigurationError(
                f"agent id {agent_id!r} may only contain letters, digits and _ . : -"
            )
        if handler is None and type(self).handle is Agent.handle:
            raise ConfigurationError(
                f"agent {agent_id!r} has no handler: pass handler=... or override handle()"
            )
        self.id = agent_id
        self._handler = handler
        cls = type(self)
        chosen = subscription if subscription is not None else cls.subscription
        self.filter: Filter = _subscription(chosen, agent_id)
        self.concurrency = max_concurrent if max_concurrent is not None else cls.max_concurrent
        self.rank = priority if priority is not None else cls.priority
        self.backoff = retry or cls.retry or Backoff()
        self.rate_limit = rate or cls.rate
        self.handler_timeout = timeout if timeout is not None else cls.timeout
        self.capability_type = capability or cls.capability
        self.input_validator = _validator(input_schema or cls.input_schema, agent_id, "input")
        self.output_validator = _validator(output_schema or cls.output_schema, agent_id, "output")
        self.flow = flow if flow is not None else cls.flow
        self.flow_time = flow_time or cls.flow_time
        self.flow_steps: tuple[str, ...] = ()
        if self.flow is not None:  # refuse what cannot keep acks now, not at run time
            probe = as_flow(reactivex.never(), context=_Probe())
            self.flow_steps = build_flow(self.flow, probe, agent_id).steps
        self._check_limits()

    def _check_limits(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigurationError(
                f"agent {self.id!r}: max_concurrent must be a positive integer, "
                f"got {self.concurrency!r}"
            )
        if not 1 <= self.rank <= 10:
            raise ConfigurationError(
                f"agent {self.id!r}: priority must be between 1 (first) and 10, got {self.rank}"
            )
        if self.handler_timeout is not None and self.handler_timeout <= 0:
            raise ConfigurationError(
                f"agent {self.id!r}: timeout must be positive seconds, got {self.handler_timeout}"
            )

    def handle(self, event: AgentEvent) -> HandlerResult:
        """React to one event; the default calls the handler given at construction."""
        assert self._handler is not None
        return self._handler(event)

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return f"{self.id} [{self.filter.describe()}]"

    def __repr__(self) -> str:
        return f"<Agent {self.id} subscription={self.filter.describe()!r}>"


class _Probe(FlowContext):
    """Side inputs at declaration: an empty stream (the pipeline wires the real one)."""

    def side_input(self, subscription: object, name: str) -> Observable[Held[Any]]:
        return as_flow(reactivex.never(), context=self)


def _validator(schema: PayloadSchema | None, agent_id: str, side: str) -> PayloadValidator | None:
    return None if schema is None else compile_schema(schema, f"{agent_id} {side}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


async def collect_outputs(
    result: HandlerResult, event: AgentEvent, agent_id: str, elapsed_ms: float = 0.0
) -> list[AgentEvent]:
    """Turn a handler's return value into the events it puts on the bus (stamped)."""
    # An Observable is awaitable too (it yields its last item): collect all of it instead.
    outputs: object = result
    if inspect.isawaitable(result) and not isinstance(result, Observable):
        outputs = await result
    raw: list[object] = []
    await _gather(outputs, raw, agent_id)
    return [_stamp(_as_event(item, event, agent_id, elapsed_ms), event, agent_id) for item in raw]


async def _gather(result: object, into: list[object], agent_id: str) -> None:
    if result is None:
        return
    if isinstance(result, AgentEvent | AgentResponse | dict):
        into.append(result)
    elif isinstance(result, Observable):
        into.extend(await _observable_items(result))
    elif isinstance(result, AsyncIterator):
        async for item in result:
            into.append(item)
    elif isinstance(result, Iterable) and not isinstance(result, str | bytes):
        into.extend(result)
    else:
        raise TypeError(
            f"agent {agent_id!r} returned {type(result).__name__}; return None, an "
            "AgentEvent, a dict, an AgentResponse, a list of those, an async iterator "
            "or an Observable"
        )


async def _observable_items(source: Observable[object]) -> list[object]:
    # Items may arrive on another thread (an Rx scheduler); completion is handed to
    # the loop thread-safely so the awaiting worker wakes up on its own loop.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[list[object]] = loop.create_future()
    items: list[object] = []

    def finish(result: list[object] | None, error: Exception | None) -> None:
        if done.done():
            return
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result or [])

    def on_error(error: Exception) -> None:
        loop.call_soon_threadsafe(finish, None, error)

    def on_completed() -> None:
        loop.call_soon_threadsafe(finish, items, None)

    subscription = source.subscribe(
        on_next=items.append, on_error=on_error, on_completed=on_completed
    )
    try:
        return await done
    finally:
        subscription.dispose()


def _as_event(item: object, event: AgentEvent, agent_id: str, elapsed_ms: float) -> AgentEvent:
    if isinstance(item, AgentEvent):
        return item
    if isinstance(item, dict):
        item = AgentResponse(
            original_event_id=event.event_id,
            agent_id=agent_id,
            result=item,
            processing_time_ms=elapsed_ms,
        )
    if isinstance(item, AgentResponse):
        return event.derive(RESPONSE_TYPE, item.model_dump(mode="json"), source_agent=agent_id)
    raise TypeError(
        f"agent {agent_id!r} produced {type(item).__name__} inside its result; "
        "each item must be an AgentEvent, a dict or an AgentResponse"
    )


def _stamp(output: AgentEvent, cause: AgentEvent, agent_id: str) -> AgentEvent:
    if (
        output.source_agent == agent_id
        and output.causation_id == cause.event_id
        and output.correlation_id is not None
    ):
        return output
    return output.model_copy(
        update={
            "source_agent": agent_id,
            "causation_id": cause.event_id,
            "correlation_id": output.correlation_id or cause.conversation_id,
        }
    )
