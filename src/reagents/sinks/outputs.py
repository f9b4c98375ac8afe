"""What a handler may return, and how that becomes events on the bus.

A handler may be sync or async and may return nothing, an event, a dict (wrapped as
an ``agent_response`` event carrying an `AgentResponse`), several of those, an async
iterator or an Observable. `collect_outputs` turns any of these into events stamped
with the agent as source, the cause's conversation and the cause as ``causation_id``.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeAlias

from reactivex import Observable

from reagents.events import AgentEvent, AgentResponse

__all__ = [
    "RESPONSE_TYPE",
    "AsyncHandler",
    "BatchHandler",
    "Handler",
    "HandlerOutput",
    "HandlerOutputs",
    "HandlerResult",
    "collect_outputs",
]

RESPONSE_TYPE = "agent_response"

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
"""A handler of one event (an agent without a flow, or a flow that emits events)."""

BatchHandler: TypeAlias = Callable[[list[AgentEvent]], HandlerResult]
"""A handler of a list of events (a flow that batches or windows)."""

AsyncHandler: TypeAlias = Callable[[AgentEvent], Awaitable[HandlerOutputs]]
"""A `Handler` whose result is always awaited (an ``async def`` handler, a wrapper)."""


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
