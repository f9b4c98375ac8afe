"""LLMAgent through a real pipeline: structured output as the reaction, one model call
per batch, usage and cost counted, the decorator form, and the ``ai`` extra's guard."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic_ai.models.test import TestModel

from reagents import AgentEvent, MemoryDeadLetters, Pipeline, batch
from reagents.ai import INSTALL_HINT, LLMAgent, llm_agent
from reagents.ai.prompts import default_prompt
from tests.ai.models import FakeBudget, Verdict, answering, run_events


def tick(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


async def test_the_structured_output_is_the_reaction_payload() -> None:
    prompts: list[str] = []
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    agent = pipeline.add_agent(
        LLMAgent(answering(prompts), id="analyst", output_type=Verdict, subscription="type = tick")
    )
    cause = tick(1)
    letters, seen = await run_events(pipeline, cause)
    assert letters == []
    [reply] = [e for e in seen if e.event_type == "verdict"]
    assert reply.payload == {"label": "buy", "confidence": 0.9}
    assert (reply.source_agent, reply.causation_id) == ("analyst", cause.event_id)
    assert reply.correlation_id == cause.conversation_id
    assert json.loads(prompts[0]) == {"event_type": "tick", "payload": {"n": 1}}
    assert agent.usage.calls == 1
    stats = pipeline.stats()["analyst"]
    assert (stats.model_requests, stats.input_tokens) == (1, agent.usage.input_tokens)
    assert stats.output_tokens == agent.usage.output_tokens


async def test_a_batch_is_one_model_call_with_every_event_in_the_prompt() -> None:
    prompts: list[str] = []
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(
            answering(prompts),
            id="analyst",
            output_type=Verdict,
            event_type="batch_verdict",
            subscription="type = tick",
            flow=[batch(3)],
        )
    )
    events = [tick(n) for n in range(6)]
    _, seen = await run_events(pipeline, *events)
    assert len(prompts) == 2  # six events, two batches, two calls
    assert [item["payload"]["n"] for item in json.loads(prompts[0])] == [0, 1, 2]
    replies = [e for e in seen if e.event_type == "batch_verdict"]
    assert [r.causation_id for r in replies] == [events[2].event_id, events[5].event_id]


async def test_usage_is_counted_and_priced() -> None:
    budget = FakeBudget()
    agent = LLMAgent(
        TestModel(),
        id="analyst",
        output_type=Verdict,
        budget=budget,
        prices={"test": (1.0, 4.0)},
    )
    assert agent.usage.cost_usd == 0.0
    for n in range(3):
        reply = await agent.react(tick(n))
        assert isinstance(reply, AgentEvent)
    usage = agent.usage
    assert (usage.calls, usage.requests, usage.failures) == (3, 3, 0)
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    expected = (usage.input_tokens * 1.0 + usage.output_tokens * 4.0) / 1e6
    assert usage.cost_usd == pytest.approx(expected)
    assert budget.used_tokens == [usage.total_tokens // 3] * 3
    assert [model for model, _ in budget.reserved] == ["test"] * 3


async def test_without_a_price_there_is_no_cost_and_text_output_is_wrapped() -> None:
    agent = LLMAgent(TestModel(custom_output_text="hold"), id="chat")
    reply = await agent.react(tick(1))
    assert isinstance(reply, AgentEvent)
    assert (reply.event_type, reply.payload) == ("llm_reply", {"text": "hold"})
    assert agent.usage.cost_usd is None


async def test_the_decorated_function_builds_the_prompt() -> None:
    prompts: list[str] = []

    @llm_agent(answering(prompts), output_type=Verdict, subscription="type = tick")
    def judge(event: AgentEvent | list[AgentEvent]) -> str:
        assert isinstance(event, AgentEvent)
        return f"Is tick {event.payload['n']} a buy?"

    assert isinstance(judge, LLMAgent)
    assert judge.id == "judge"
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(judge)
    _, seen = await run_events(pipeline, tick(7))
    assert prompts == ["Is tick 7 a buy?"]
    assert [e.event_type for e in seen].count("verdict") == 1


def test_the_default_prompt_is_the_event_as_json() -> None:
    assert json.loads(default_prompt([tick(1), tick(2)])) == [
        {"event_type": "tick", "payload": {"n": 1}},
        {"event_type": "tick", "payload": {"n": 2}},
    ]


def test_without_the_extra_building_an_agent_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "pydantic_ai", None)
    with pytest.raises(ImportError, match=r"pip install 'reagents\[ai\]'") as raised:
        LLMAgent("openai:gpt-4o", id="analyst")
    assert str(raised.value) == INSTALL_HINT


def test_importing_reagents_does_not_import_pydantic_ai() -> None:
    code = "import sys, reagents, reagents.ai; assert 'pydantic_ai' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


async def test_the_model_may_call_the_agents_tools() -> None:
    looked_up: list[str] = []

    def quote(symbol: str) -> float:
        """The last price of ``symbol``."""
        looked_up.append(symbol)
        return 101.5

    agent = LLMAgent(TestModel(), id="analyst", output_type=Verdict, tools=[quote])
    reply = await agent.react(tick(1))
    assert reply is not None
    assert len(looked_up) == 1  # TestModel calls every tool once
    assert agent.usage.requests == 2  # the tool call, then the answer
