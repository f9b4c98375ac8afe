"""`Answers`: requests waiting for an agent's first reaction (`Pipeline.request`).

The bus offers every event it routes; one caused by a waiting request and emitted by
the agent asked resolves that request's future.
"""

from __future__ import annotations

import asyncio

from reagents.events import AgentEvent

__all__ = ["Answers"]


class Answers:
    """Request id → (the agent asked, the future its first reaction resolves)."""

    def __init__(self) -> None:
        self.waiting: dict[str, tuple[str, asyncio.Future[AgentEvent]]] = {}
        """Request id → (agent asked, future); empty when nothing waits (checked per event)."""

    def expect(self, request: AgentEvent, agent_id: str) -> asyncio.Future[AgentEvent]:
        """A future resolved with ``agent_id``'s first reaction to ``request``."""
        answer: asyncio.Future[AgentEvent] = asyncio.get_running_loop().create_future()
        self.waiting[request.event_id] = (agent_id, answer)
        return answer

    def forget(self, request: AgentEvent) -> None:
        """Stop waiting for an answer to ``request``."""
        self.waiting.pop(request.event_id, None)

    def offer(self, event: AgentEvent) -> None:
        """Resolve the request ``event`` answers, if one waits for it."""
        waiting = self.waiting.get(event.causation_id or "")
        if waiting is not None and waiting[0] == event.source_agent and not waiting[1].done():
            waiting[1].set_result(event)
