"""What happens when an agent gives up on a work item: dead letters, a warning, answers.

Each event of the item becomes a `DeadLetter` (with the traceback when user code
raised), one WARNING names the agent, the events, the attempts and the error (with
its traceback), so a failing agent is never silent even without a dead-letter log
anyone reads. Events addressed to the agent also get an ``agent_error`` answer.
"""

from __future__ import annotations

import logging

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent
from reagents.pipelines.deliveries import RunnerHost, WorkItem, agent_error

__all__ = ["dead_letter_item", "overflow_letter", "runaway_letter", "timed_out"]

logger = logging.getLogger(__name__)

_USER_CODE = frozenset({FailureStage.AGENT, FailureStage.SINK, FailureStage.FLOW})


def dead_letter_item(
    host: RunnerHost,
    agent_id: str,
    item: WorkItem,
    error: Exception,
    stage: FailureStage,
    note: str | None = None,
) -> list[AgentEvent]:
    """Dead-letter every event of ``item`` and warn once; return the answers to send."""
    traced = stage in _USER_CODE
    answers = []
    deliveries = item.deliveries()
    for delivery in deliveries:
        event = delivery.event
        host.dead_letter(
            DeadLetter.from_error(
                stage,
                error,
                event=event,
                agent_id=agent_id,
                attempts=item.attempts,
                first_failure_at=item.first_failure_at,
                with_traceback=traced,
                note=note,
            )
        )
        if agent_id in event.target_agents:
            answers.append(agent_error(event, agent_id, error, stage, item.attempts))
    ids = [d.event.event_id for d in deliveries]
    what = f"event {ids[0]}" if len(ids) == 1 else f"{len(ids)} events ({ids[0]}, ...)"
    who = agent_id if stage is FailureStage.SINK else f"agent {agent_id}"  # sink:<name>
    logger.warning(
        "%s: %s dead-lettered after %d attempt(s)%s: %s: %s",
        *(who, what),
        *(item.attempts, f", {note}" if note else "", type(error).__name__, error),
        exc_info=error if traced and error.__traceback__ is not None else None,
    )
    return answers


def timed_out(agent_id: str, limit: float) -> str:
    """The reason of a handler that did not finish within its ``timeout``."""
    return f"handler of agent {agent_id!r} timed out after {limit:g} s (timeout={limit:g})"


def runaway_letter(event: AgentEvent, max_depth: int) -> DeadLetter:
    """The dead letter of an event emitted deeper than ``max_depth`` reactions."""
    error = RecursionError(
        f"causation chain deeper than max_depth={max_depth} (a runaway cycle of "
        f"agents reacting to each other?); last emitted by {event.source_agent!r}"
    )
    return DeadLetter.from_error(
        FailureStage.ROUTING, error, event=event, agent_id=event.source_agent
    )


def overflow_letter(event: AgentEvent, origin: str, reason: str) -> DeadLetter:
    """The dead letter of an event a full buffer (``origin``) dropped."""
    error = OverflowError(f"the {origin} buffer was full ({reason})")
    return DeadLetter.from_error(FailureStage.ROUTING, error, event=event, origin=origin)
