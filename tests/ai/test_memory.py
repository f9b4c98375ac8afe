"""Conversation memory: an LLMAgent continues each conversation across events, keeps
conversations apart, trims to whole turns, and continues across a reopened SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from reagents import AgentEvent, MemoryDeadLetters, Pipeline
from reagents.ai import LLMAgent, MemoryConversations, SqliteConversations, trim_history
from reagents.errors import ConfigurationError
from tests.ai.models import Verdict, prompts_of, run_events


def said(text: str, conversation: str = "c1") -> AgentEvent:
    return AgentEvent(event_type="said", payload={"text": text}, correlation_id=conversation)


def recording(calls: list[list[str]]) -> FunctionModel:
    """A model that records, per call, every user prompt it was sent (history included)."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(prompts_of(messages))
        args = {"label": f"turn {len(calls)}", "confidence": 1.0}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer, model_name="fake-model")


def prompt(event: AgentEvent | list[AgentEvent]) -> str:
    assert isinstance(event, AgentEvent)
    return str(event.payload["text"])


def chat(
    calls: list[list[str]],
    memory: MemoryConversations | SqliteConversations,
    max_turns: int = 20,
    max_history_tokens: int | None = None,
) -> LLMAgent:
    return LLMAgent(
        recording(calls),
        id="chat",
        output_type=Verdict,
        prompt=prompt,
        memory=memory,
        max_turns=max_turns,
        max_history_tokens=max_history_tokens,
    )


async def test_a_three_turn_conversation_sees_its_earlier_prompts() -> None:
    calls: list[list[str]] = []
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(
            recording(calls),
            id="chat",
            output_type=Verdict,
            prompt=prompt,
            memory=MemoryConversations(),
            subscription="type = said",
        )
    )
    letters, _ = await run_events(pipeline, said("one"), said("two"), said("three"))
    assert letters == []
    assert calls == [["one"], ["one", "two"], ["one", "two", "three"]]


async def test_conversations_are_kept_apart() -> None:
    calls: list[list[str]] = []
    memory = MemoryConversations()
    agent = chat(calls, memory)
    for event in (said("a1", "a"), said("b1", "b"), said("a2", "a"), said("b2", "b")):
        await agent.react(event)
    assert calls == [["a1"], ["b1"], ["a1", "a2"], ["b1", "b2"]]
    assert len(memory) == 2


async def test_without_memory_each_event_starts_afresh() -> None:
    calls: list[list[str]] = []
    agent = LLMAgent(recording(calls), id="chat", output_type=Verdict, prompt=prompt)
    await agent.react(said("one"))
    await agent.react(said("two"))
    assert calls == [["one"], ["two"]]


async def test_the_history_is_bounded_to_the_last_turns() -> None:
    calls: list[list[str]] = []
    agent = chat(calls, MemoryConversations(), max_turns=2)
    for text in ("one", "two", "three", "four"):
        await agent.react(said(text))
    assert calls[-1] == ["two", "three", "four"]  # the two kept turns, then the new one


async def test_a_token_bound_drops_the_oldest_turns_but_keeps_the_latest() -> None:
    calls: list[list[str]] = []
    agent = chat(calls, MemoryConversations(), max_history_tokens=1)
    for text in ("one", "two", "three"):
        await agent.react(said(text))
    assert calls == [["one"], ["one", "two"], ["two", "three"]]  # only the last turn kept


def test_max_turns_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_turns"):
        chat([], MemoryConversations(), max_turns=0)


def test_trimming_cuts_only_where_a_user_prompt_starts_a_turn() -> None:
    def tool_turn(text: str) -> list[ModelMessage]:
        from pydantic_ai.messages import ToolReturnPart, UserPromptPart

        return [
            ModelRequest(parts=[UserPromptPart(text)]),
            ModelResponse(parts=[ToolCallPart("look", {}, tool_call_id=text)]),
            ModelRequest(parts=[ToolReturnPart("look", "seen", tool_call_id=text)]),
            ModelResponse(parts=[ToolCallPart("final_result", {}, tool_call_id=text + "!")]),
        ]

    history = tool_turn("one") + tool_turn("two") + tool_turn("three")
    assert trim_history(history, max_turns=2) == history[4:]
    assert trim_history(history, max_turns=5) == history
    assert trim_history(history, max_turns=2, max_tokens=1) == history[8:]


async def test_a_sqlite_conversation_continues_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    calls: list[list[str]] = []
    with SqliteConversations(path) as memory:
        pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
        pipeline.add_agent(
            LLMAgent(
                recording(calls),
                id="chat",
                output_type=Verdict,
                prompt=prompt,
                memory=memory,
                subscription="type = said",
            )
        )
        await run_events(pipeline, said("one"), said("two"))
    memory.close()  # a second close does nothing
    later: list[list[str]] = []
    with SqliteConversations(path) as reopened:
        await chat(later, reopened).react(said("three"))
        assert later == [["one", "two", "three"]]
        assert reopened.read("other") is None
