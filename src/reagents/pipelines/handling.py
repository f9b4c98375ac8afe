"""One handling by an agent's runner: its outputs (within the agent's timeout), and a hook.

A `HandlingObserver` hears of every handling by every runner of a pipeline it is
installed on (`Pipeline.observe`): `start` when the handler is called, then exactly one
of the returned `Handling`'s `handled` (with the outputs, which it may stamp, e.g. with
its trace context) or `failed`. It is how tracing (``reagents.otel``) follows the
runtime without the runtime knowing about it; with no observer installed the runner
pays one ``is not None`` check per event.

``start`` runs in the worker task that then calls the handler and awaits it, and the
`Handling` is finished in that same task, so an observer may set a context variable
in ``start`` that the handler sees and reset it when finished.
"""

from __future__ import annotations

import asyncio
import time
from types import CoroutineType
from typing import Literal, Protocol, TypeAlias

from reagents.dead_letter import FailureStage
from reagents.events import AgentEvent
from reagents.pipelines.deliveries import check_outputs
from reagents.pipelines.failures import timed_out
from reagents.sinks.agent import Agent
from reagents.sinks.outputs import HandlerResult, collect_outputs

__all__ = ["Handling", "HandlingObserver", "Outcome", "handler_outputs"]

Outcome: TypeAlias = Literal["retried", "dead_lettered", "cancelled"]
"""How a handling that did not succeed ended: to be retried, dead-lettered, cancelled
(the pipeline stopped; the event stays unacknowledged)."""


class Handling(Protocol):
    """One handling an observer follows; exactly one of its methods is called, once."""

    def handled(self, outputs: list[AgentEvent]) -> list[AgentEvent]:
        """The handler succeeded; return ``outputs`` as they go onto the bus (the same
        events, or copies stamped by the observer)."""
        ...

    def failed(self, error: BaseException, outcome: Outcome) -> None:
        """The handler (or its output check) raised ``error``; ``outcome`` says what next."""
        ...


class HandlingObserver(Protocol):
    """Hears of every handling of the runners of a pipeline (see the module doc)."""

    def start(
        self, runner_id: str, event: AgentEvent, attempt: int, stage: FailureStage
    ) -> Handling:
        """Runner ``runner_id`` calls its handler on ``event`` for the ``attempt``-th time
        (1 first). ``stage`` is ``AGENT`` for an agent, ``SINK`` for a sink; for the
        value of a flow, ``event`` is the last event it was made from."""
        ...


async def handler_outputs(
    agent: Agent, result: HandlerResult, event: AgentEvent, started_ns: int
) -> list[AgentEvent]:
    """The events a handler's ``result`` puts on the bus, awaited within the agent's
    ``timeout`` (if any), then checked against its output schema.

    ``started_ns`` (``time.perf_counter_ns``) is when the handler was called: a dict's
    `AgentResponse` carries the time since as ``processing_time_ms``, read once
    ``result`` (an ``async def`` handler's coroutine) has been awaited.
    """
    if agent.handler_timeout is None:
        outputs = await _collected(agent, result, event, started_ns)
    else:
        try:
            async with asyncio.timeout(agent.handler_timeout) as deadline:
                outputs = await _collected(agent, result, event, started_ns)
        except TimeoutError as error:
            if not deadline.expired():  # the handler's own TimeoutError
                raise
            # its cause's traceback shows where the handler was when time ran out
            raise TimeoutError(timed_out(agent.id, agent.handler_timeout)) from error
    if agent.output_validator is not None:
        check_outputs(agent.output_validator, outputs)
    return outputs


async def _collected(
    agent: Agent, result: HandlerResult, event: AgentEvent, started_ns: int
) -> list[AgentEvent]:
    if type(result) is CoroutineType:
        result = await result
        if result is None:
            return []
    elapsed_ms = (time.perf_counter_ns() - started_ns) / 1e6
    return await collect_outputs(result, event, agent.id, elapsed_ms)
