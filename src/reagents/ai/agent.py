"""`LLMAgent`: an agent whose handler is a pydantic-ai model call with a typed output.

Each event (or each batch a flow emits: one model call for the whole batch) becomes
a prompt; the model answers with ``output_type`` (a pydantic model), and the answer
becomes the reaction event's payload. Failures are classified (`reagents.ai.errors`)
so rate limits retry and rejected requests dead-letter at once; usage is counted on
the agent (`LLMAgent.usage`), priced when a price table is given.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from inspect import isawaitable
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import BaseModel
from typing_extensions import Unpack

from reagents.ai.budget import BudgetLike, LeaseLike
from reagents.ai.cassette import Cassette
from reagents.ai.errors import PermanentModelError, TransientModelError, classify
from reagents.ai.extra import require_pydantic_ai
from reagents.ai.memory import ConversationMemory, trim_history
from reagents.ai.outputs import output_choices, reaction_payload
from reagents.ai.prompts import default_event_type, default_prompt, estimate_tokens
from reagents.ai.tools import AgentDirectory, AgentTool, agent_tools
from reagents.ai.usage import ModelUsage, Prices, UsageCounter
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.sinks.agent import Agent, AgentOptions, NoRetry
from reagents.sinks.outputs import HandlerResult

if TYPE_CHECKING:
    from pydantic_ai import Agent as PydanticAgent
    from pydantic_ai.models import Model
    from pydantic_ai.tools import Tool, ToolFuncEither
    from pydantic_ai.toolsets import FunctionToolset

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "LLMAgent",
    "LLMInput",
    "LLMOptions",
    "ModelTool",
    "PromptBuilder",
    "llm_agent",
]

LLMInput: TypeAlias = AgentEvent | list[AgentEvent]
"""What an LLM agent handles: an event, or the list a batching flow emits."""

PromptBuilder: TypeAlias = Callable[[LLMInput], str]
"""Builds the user prompt from an event (or a batch of them)."""

ModelTool: TypeAlias = "Tool[None] | ToolFuncEither[None, ...]"
"""A tool the model may call: a pydantic-ai `Tool` or a plain (or RunContext) function."""

DEFAULT_INSTRUCTIONS = (
    "You are an agent in an event-driven system. You receive events as JSON "
    "(their type and payload) and answer with the requested structured output."
)


class LLMOptions(AgentOptions, total=False):
    """`LLMAgent`'s settings besides its model, id and prompt (for `llm_agent`)."""

    instructions: str
    output_type: type[BaseModel] | Sequence[type[BaseModel]] | None
    event_type: str | None
    tools: Sequence[ModelTool]
    agent_tools: Sequence[AgentTool]
    budget: BudgetLike | None
    prices: Prices | None
    memory: ConversationMemory | None
    max_turns: int
    max_history_tokens: int | None
    cassette: Cassette | None


class LLMAgent(Agent[LLMInput]):
    """An agent that asks a model about each event and emits its structured answer.

    ``model`` is a pydantic-ai model name (``"openai:gpt-4o"``) or `Model` instance;
    ``output_type`` a pydantic model (``None``: plain text, as ``{"text": ...}``), or
    several for the model to choose from (the event type then follows its choice).
    The reaction is ``event.derive(event_type, output.model_dump(mode="json"))``
    (for a batch: derived from its last event). ``budget`` (a `BudgetLike`) is asked
    before every call; ``prices`` prices `usage`. ``memory`` keeps each conversation's
    messages (by ``event.conversation_id``) so the next event of the conversation
    continues it, trimmed to the last ``max_turns`` turns and, when given, about
    ``max_history_tokens`` tokens; the store stays the caller's to close.
    ``cassette`` records the model's answers or replays them without calling it
    (`reagents.ai.cassette`). ``agent_tools`` offers other agents to the model as
    tools (ids of agents in the pipeline, or agents running elsewhere; see
    `reagents.ai.tools`). Other options are `Agent`'s.
    """

    def __init__(
        self,
        model: str | Model,
        *,
        id: str,
        instructions: str = DEFAULT_INSTRUCTIONS,
        output_type: type[BaseModel] | Sequence[type[BaseModel]] | None = None,
        event_type: str | None = None,
        prompt: PromptBuilder | None = None,
        tools: Sequence[ModelTool] = (),
        agent_tools: Sequence[AgentTool] = (),
        budget: BudgetLike | None = None,
        prices: Prices | None = None,
        memory: ConversationMemory | None = None,
        max_turns: int = 20,
        max_history_tokens: int | None = None,
        cassette: Cassette | None = None,
        **options: Unpack[AgentOptions],
    ) -> None:
        require_pydantic_ai()
        from pydantic_ai import Agent as PydanticAgent

        options["no_retry"] = _with_permanent(options.get("no_retry"))
        super().__init__(None, id=id, **options)
        self.model_name = model if isinstance(model, str) else model.model_name
        self.output_type = output_type
        choices = output_choices(output_type)
        if len(choices) > 1:  # the model picks one; the event type follows its pick
            self.event_type: str | None = event_type
        else:
            self.event_type = event_type or default_event_type(choices[0] if choices else None)
        self.instructions = instructions
        self._prompt = prompt or default_prompt
        self._budget = budget
        if max_turns < 1:
            raise ConfigurationError(f"max_turns must be at least 1, not {max_turns}")
        self.memory = memory
        self.max_turns = max_turns
        self.max_history_tokens = max_history_tokens
        self._usage = UsageCounter(self.model_name, prices)
        self.agent_tools = tuple(agent_tools)
        self._toolset: FunctionToolset[None] | None = None  # set by `bind`
        self._paused_until = 0.0  # loop time before which a 429's Retry-After holds calls
        self._model = model
        self.cassette: Cassette | None = None
        self.model_agent: PydanticAgent[None, Any] = PydanticAgent(
            model,
            output_type=list(choices) if len(choices) > 1 else (choices or [str])[0],
            instructions=instructions,
            tools=tools,
            name=id,
        )
        if cassette is not None:
            self.use_cassette(cassette)

    def use_cassette(self, cassette: Cassette | None) -> None:
        """Answer through ``cassette`` from now on (None: call the model directly again)."""
        from reagents.ai._cassette_model import CassetteModel

        self.cassette = cassette
        recorded = None if cassette is None else CassetteModel(self._model, cassette)
        self.model_agent.model = recorded or self._model

    @property
    def usage(self) -> ModelUsage:
        """This agent's model usage so far: calls, requests, tokens, cost."""
        return self._usage.snapshot()

    def bind(self, pipeline: AgentDirectory) -> None:
        """Called by the pipeline as it starts: turn ``agent_tools`` into tools that
        send requests through it (`ConfigurationError` for an id it does not know)."""
        from pydantic_ai.toolsets import FunctionToolset

        if self.agent_tools:
            self._toolset = FunctionToolset(agent_tools(self.agent_tools, pipeline, self.id))

    def handle(self, event: LLMInput) -> HandlerResult:
        """One model call for the event (or batch); its output as the reaction."""
        return self.react(event)

    async def react(self, value: LLMInput) -> AgentEvent | None:
        """Ask the model about an event (or batch); the reaction, None for an empty batch."""
        events = value if isinstance(value, list) else [value]
        if not events:
            return None
        prompt = self._prompt(value)
        conversation = events[-1].conversation_id
        history = self.memory.load(conversation) if self.memory is not None else []
        tokens = estimate_tokens(self.instructions, prompt)
        toolsets = self._toolsets()
        await self._wait_out_pause()
        try:
            async with self._reserve(tokens) as lease:
                result = await self.model_agent.run(
                    prompt, message_history=history or None, toolsets=toolsets
                )
                run = result.usage
                lease.used(run.input_tokens + run.output_tokens)
        except Exception as error:
            self._usage.failed()
            size = f"{len(prompt)} prompt characters, ~{tokens} tokens"
            classified = classify(error, self.model_name, size)
            if classified is None:
                raise
            await self._pause_if_asked(classified)
            raise classified from error
        self._usage.succeeded(run.requests, run.input_tokens, run.output_tokens)
        if self.memory is not None:
            kept = trim_history(result.all_messages(), self.max_turns, self.max_history_tokens)
            self.memory.save(conversation, kept)
        output = result.output
        kind = self.event_type or default_event_type(type(output))
        return events[-1].derive(kind, reaction_payload(output), source_agent=self.id)

    def _toolsets(self) -> list[FunctionToolset[None]]:
        if not self.agent_tools:
            return []
        if self._toolset is None:
            raise ConfigurationError(
                f"agent {self.id!r} has agent_tools: run it in a pipeline, which binds them"
            )
        return [self._toolset]

    @asynccontextmanager
    async def _reserve(self, tokens: int) -> AsyncIterator[LeaseLike]:
        if self._budget is None:
            yield _NO_LEASE
            return
        async with self._budget.call(self.model_name, tokens=tokens) as lease:
            yield lease

    async def _wait_out_pause(self) -> None:
        loop = asyncio.get_running_loop()
        remaining = self._paused_until - loop.time()
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def _pause_if_asked(self, error: Exception) -> None:
        """A 429 with Retry-After pauses the model, so the retry waits at least that long.

        The agent holds its own next call until then (whatever the backoff says), and
        the budget, when there is one, pauses every caller of the model.
        """
        if not isinstance(error, TransientModelError) or error.retry_after is None:
            return
        until = asyncio.get_running_loop().time() + error.retry_after
        self._paused_until = max(self._paused_until, until)
        if self._budget is None:
            return
        paused = self._budget.pause(self.model_name, error.retry_after)
        if isawaitable(paused):
            await paused

    def __repr__(self) -> str:
        emits = self.event_type or "|".join(
            map(default_event_type, output_choices(self.output_type))
        )
        return f"<LLMAgent {self.id} model={self.model_name!r} emits={emits!r}>"


def llm_agent(
    model: str | Model,
    *,
    id: str | None = None,
    **settings: Unpack[LLMOptions],
) -> Callable[[PromptBuilder], LLMAgent]:
    """Decorator: the decorated function builds the prompt of a new `LLMAgent`.

    ``settings`` are `LLMAgent`'s (output_type, event_type, budget, subscription,
    flow...); the id defaults to the function's name. Add the result to a pipeline
    with ``pipeline.add_agent(...)``.
    """

    def build(prompt: PromptBuilder) -> LLMAgent:
        return LLMAgent(model, id=id or prompt.__name__, prompt=prompt, **settings)

    return build


class _NoLease:
    """The lease of a call without a budget: nothing to record."""

    def used(self, tokens: int) -> None:
        """Nothing to record without a budget."""


_NO_LEASE = _NoLease()


def _with_permanent(chosen: NoRetry | None) -> NoRetry:
    """The agent's ``no_retry`` plus `PermanentModelError` (never worth retrying)."""
    if chosen is None:
        return PermanentModelError
    if isinstance(chosen, tuple):
        return (PermanentModelError, *chosen)
    if isinstance(chosen, type):
        return (PermanentModelError, chosen)
    predicate = chosen
    return lambda error: isinstance(error, PermanentModelError) or predicate(error)
