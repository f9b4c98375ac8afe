"""Request/response over the bus: send one agent an event, await its first reaction.

The request is an event addressed to the agent; the answer is the first event that
agent emits with ``causation_id`` = the request, so concurrent requests never mix up
their answers, and the agent may run in this process or, over Kafka, in another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from reagents.errors import ReagentsError
from reagents.events import AgentEvent, new_id
from reagents.pipelines.bus import Bus
from reagents.pipelines.deliveries import ERROR_TYPE

__all__ = ["AgentRequestError", "RequestTimeoutError", "bind_agents", "send_request"]


class RequestTimeoutError(ReagentsError, TimeoutError):
    """A request to an agent got no answer in time."""


class AgentRequestError(ReagentsError, RuntimeError):
    """The agent a request was addressed to could not handle it (it answered ``agent_error``).

    ``answer`` is the ``agent_error`` event, with the stage, error type and message.
    """

    def __init__(self, message: str, answer: AgentEvent) -> None:
        super().__init__(message)
        self.answer = answer


async def send_request(
    bus: Bus,
    publish: Callable[[AgentEvent], Awaitable[None]],
    agent_id: str,
    payload: dict[str, Any],
    *,
    sender: str,
    event_type: str,
    timeout: float,
    priority: int,
    correlation_id: str | None,
) -> AgentEvent:
    """Publish a request to ``agent_id`` and return its answer (see `Pipeline.request`)."""
    request = AgentEvent(
        event_type=event_type,
        source_agent=sender,
        target_agents=(agent_id,),
        payload=payload,
        priority=priority,
        correlation_id=correlation_id or new_id(),
    )
    answer = bus.expect_answer(request, agent_id)
    try:
        await publish(request)
        response = await asyncio.wait_for(answer, timeout)
    except TimeoutError:
        raise RequestTimeoutError(
            f"agent {agent_id!r} did not answer {event_type!r} within {timeout}s"
        ) from None
    finally:
        bus.forget_answer(request)
    if response.event_type == ERROR_TYPE:
        detail = response.payload
        raise AgentRequestError(
            f"agent {agent_id!r} could not handle {event_type!r}: "
            f"{detail.get('error_type')}: {detail.get('message')}",
            response,
        )
    return response


def bind_agents(pipeline: object, agents: Iterable[object]) -> None:
    """Hand ``pipeline`` to each agent that defines ``bind(pipeline)``.

    An agent that sends requests of its own (an LLM agent offering other agents to its
    model as tools) binds them here, when the pipeline starts, so an unknown agent id
    fails then; the agent needs only the pipeline's ``get_agent`` and ``request``.
    """
    for agent in agents:
        bind = getattr(agent, "bind", None)
        if callable(bind):
            bind(pipeline)
