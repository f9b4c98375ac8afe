"""Offline models for the LLM agent tests: FunctionModels that answer or fail on cue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from reagents import AgentEvent, Backoff, MemoryDeadLetters, Pipeline
from reagents.dead_letter import DeadLetter

FAST = Backoff(max_retries=3, initial=0.001, max_delay=0.001, jitter=0)


class Verdict(BaseModel):
    """The structured output the test agents ask for."""

    label: str
    confidence: float


def prompts_of(messages: list[ModelMessage]) -> list[str]:
    """The user prompts a model was sent."""
    return [
        str(part.content)
        for message in messages
        if isinstance(message, ModelRequest)
        for part in message.parts
        if part.part_kind == "user-prompt"
    ]


def answering(seen: list[str], label: str = "buy") -> FunctionModel:
    """A model that records each prompt and answers with a `Verdict`."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        seen.extend(prompts_of(messages))
        args = {"label": label, "confidence": 0.9}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer, model_name="fake-model")


def failing(error: Callable[[], Exception], attempts: list[int]) -> FunctionModel:
    """A model that raises ``error()`` on every call, counting the calls."""

    def fail(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        attempts.append(len(attempts) + 1)
        raise error()

    return FunctionModel(fail, model_name="fake-model")


class FakeBudget:
    """A `BudgetLike` that records reservations, used tokens and pauses."""

    def __init__(self) -> None:
        self.reserved: list[tuple[str, int]] = []
        self.used_tokens: list[int] = []
        self.pauses: list[tuple[str, float]] = []

    @asynccontextmanager
    async def call(self, model: str, *, tokens: int) -> AsyncIterator[FakeBudget]:
        self.reserved.append((model, tokens))
        yield self

    def used(self, tokens: int) -> None:
        self.used_tokens.append(tokens)

    async def pause(self, model: str, seconds: float) -> None:
        self.pauses.append((model, seconds))


async def run_events(
    pipeline: Pipeline, *events: AgentEvent
) -> tuple[list[DeadLetter], list[AgentEvent]]:
    """Publish ``events``, run to the end; the dead letters and every bus event."""
    seen: list[AgentEvent] = []
    pipeline.events.subscribe(seen.append)
    for event in events:
        pipeline.publish(event)
    await asyncio.wait_for(pipeline.run(), 10)
    letters = pipeline.dead_letter_sink
    assert isinstance(letters, MemoryDeadLetters)
    return letters.letters, seen
