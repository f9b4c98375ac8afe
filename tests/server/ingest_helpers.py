"""What the ``POST /events`` tests share: tokens, a recording pipeline, waiting for it."""

from __future__ import annotations

import asyncio

from pydantic import SecretStr

from reagents import Pipeline
from reagents.events import AgentEvent
from reagents.schemas import PayloadSchemas
from reagents.server import Scope, ServerSettings, Token

PUBLISHER = "p" * 20
READER = "r" * 20
TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def recording(schemas: PayloadSchemas | None = None) -> tuple[Pipeline, list[AgentEvent]]:
    """A pipeline whose one agent (``recorder``) records every event it handles."""
    seen: list[AgentEvent] = []
    pipeline = Pipeline("p", schemas=schemas)
    pipeline.agent(id="recorder")(seen.append)
    return pipeline, seen


async def handled(pipeline: Pipeline, seen: list[AgentEvent], count: int) -> list[AgentEvent]:
    """Wait until ``count`` events were handled and nothing is in flight or queued."""
    async with asyncio.timeout(10):
        while len(seen) < count:
            await asyncio.sleep(0.005)
        await pipeline.wait_idle()
    return seen


def settings(**changes: object) -> ServerSettings:
    """Two tokens: ``pub`` may publish, ``reader`` may only read."""
    tokens = (
        Token(name="pub", token=SecretStr(PUBLISHER), scopes=frozenset({Scope.PUBLISH})),
        Token(name="reader", token=SecretStr(READER), scopes=frozenset({Scope.READ})),
    )
    return ServerSettings.model_validate({"tokens": tokens, **changes})
