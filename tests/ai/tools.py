"""Agents as tools, for the tests in and out of process: a pricing agent with an input
schema, and a seller whose model asks it for a price before it answers an `Offer`."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
)
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import ToolDefinition

from reagents import Agent, AgentEvent
from reagents.ai import LLMAgent


class Quote(BaseModel):
    """What the pricing agent needs: a product and a quantity."""

    sku: str
    quantity: int


class Offer(BaseModel):
    """The LLM agent's answer: a price it got from the pricing agent."""

    sku: str
    total: float


def pricing_agent() -> Agent[AgentEvent]:
    def pricing(event: AgentEvent) -> AgentEvent:
        """Quotes the total price of a quantity of one product."""
        total = 2.5 * event.payload["quantity"]
        return event.derive("price", {"sku": event.payload["sku"], "total": total})

    return Agent(pricing, subscription="type = never", input_schema=Quote)


def consulting(tools_seen: list[ToolDefinition]) -> FunctionModel:
    """A model that asks the pricing tool first, then answers with its result."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        tools_seen.extend(info.function_tools)
        returns = [
            part
            for message in messages
            if isinstance(message, ModelRequest)
            for part in message.parts
            if isinstance(part, ToolReturnPart) and part.tool_name == "pricing"
        ]
        if not returns:
            return ModelResponse(parts=[ToolCallPart("pricing", {"sku": "tea", "quantity": 4})])
        price: dict[str, Any] = json.loads(returns[0].model_response_str())
        offer = {"sku": price["sku"], "total": price["total"]}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, offer)])

    return FunctionModel(answer, model_name="fake-model")


def seller(model: FunctionModel, tools: list[str | Agent[Any]]) -> LLMAgent:
    return LLMAgent(
        model, id="seller", output_type=Offer, subscription="type = ask", agent_tools=tools
    )
