"""Agents as tools: an LLM agent's model calls another agent of the pipeline, whose
answer comes back as the tool result; the tool's schema is the agent's input schema."""

from __future__ import annotations

import asyncio

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    TextPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import ToolDefinition

from reagents import Agent, AgentEvent, ConfigurationError, MemoryDeadLetters, Pipeline
from reagents.ai import LLMAgent
from tests.ai.models import run_events
from tests.ai.tools import Offer, Quote, consulting, pricing_agent, seller


async def test_the_model_calls_an_agent_as_a_tool_and_answers_with_its_reply() -> None:
    tools_seen: list[ToolDefinition] = []
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(seller(consulting(tools_seen), ["pricing"]))
    pipeline.add_agent(pricing_agent())
    letters, seen = await run_events(pipeline, AgentEvent(event_type="ask", payload={}))
    assert letters == []
    [request] = [e for e in seen if e.target_agents == ("pricing",)]
    assert request.payload == {"sku": "tea", "quantity": 4}
    [offer] = [e for e in seen if e.event_type == "offer"]
    assert offer.payload == {"sku": "tea", "total": 10.0}
    [tool] = {t.name: t for t in tools_seen}.values()
    assert tool.name == "pricing"
    assert tool.description == "Quotes the total price of a quantity of one product."
    assert tool.parameters_json_schema == Quote.model_json_schema()


async def test_a_json_schema_and_a_capability_describe_the_tool() -> None:
    schema = {"type": "object", "properties": {"sku": {"type": "string"}}, "required": ["sku"]}
    stock = Agent(
        lambda event: event.derive("stock", {"count": 3}),
        id="inventory",
        input_schema=schema,
        capability="Counts the units of a product in stock.",
    )
    tools_seen: list[ToolDefinition] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tools_seen.extend(info.function_tools)
        return ModelResponse(parts=[TextPart("fine")])

    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(FunctionModel(answer), id="clerk", subscription="type = ask", agent_tools=[stock])
    )
    await run_events(pipeline, AgentEvent(event_type="ask", payload={}))
    [tool] = tools_seen
    assert (tool.name, tool.parameters_json_schema) == ("inventory", schema)
    assert tool.description == "Counts the units of a product in stock."


async def test_an_unknown_agent_id_fails_when_the_pipeline_starts() -> None:
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(seller(consulting([]), ["pricing", "inventori"]))
    pipeline.add_agent(pricing_agent())
    with pytest.raises(ConfigurationError, match=r"'inventori' as a tool.*has no agent"):
        await asyncio.wait_for(pipeline.run(), 5)


async def test_agent_tools_outside_a_pipeline_are_refused() -> None:
    agent = seller(consulting([]), ["pricing"])
    with pytest.raises(ConfigurationError, match="run it in a pipeline"):
        await agent.react(AgentEvent(event_type="ask", payload={}))


async def test_an_agent_added_to_a_running_pipeline_gets_its_tools_bound() -> None:
    pipeline = Pipeline("shop", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(pricing_agent())
    offers: list[AgentEvent] = []
    pipeline.events.subscribe(lambda event: offers.append(event))
    async with pipeline.serving():
        with pytest.raises(ConfigurationError, match="'stock' as a tool"):
            pipeline.add_agent(seller(consulting([]), ["stock"]))
        pipeline.add_agent(
            LLMAgent(
                consulting([]),
                id="late_seller",
                output_type=Offer,
                subscription="type = ask",
                agent_tools=["pricing"],
            )
        )
        pipeline.publish(AgentEvent(event_type="ask", payload={}))
        await pipeline.wait_idle()
    assert [e.payload for e in offers if e.event_type == "offer"] == [{"sku": "tea", "total": 10.0}]
