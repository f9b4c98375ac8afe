"""Several output types: the model chooses one, and the reaction's type follows."""

from __future__ import annotations

from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from reagents import AgentEvent
from reagents.ai import LLMAgent


class Refund(BaseModel):
    amount: float


class Escalation(BaseModel):
    reason: str


def chooser() -> FunctionModel:
    """Refunds small amounts, escalates the rest: picks the output tool by name."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        names = {tool.name: tool for tool in info.output_tools}
        prompt = str(messages[-1].parts[-1].content)  # type: ignore[union-attr]
        if '"amount": 5' in prompt:
            tool = next(n for n, t in names.items() if "Refund" in (t.description or n))
            return ModelResponse(parts=[ToolCallPart(tool, {"amount": 5.0})])
        tool = next(n for n, t in names.items() if "Escalation" in (t.description or n))
        return ModelResponse(parts=[ToolCallPart(tool, {"reason": "too much"})])

    return FunctionModel(answer, model_name="chooser")


async def test_the_event_type_follows_the_output_the_model_chose() -> None:
    agent = LLMAgent(chooser(), id="desk", output_type=[Refund, Escalation])
    assert agent.event_type is None
    assert "refund|escalation" in repr(agent)
    small = await agent.react(AgentEvent(event_type="claim", payload={"amount": 5}))
    large = await agent.react(AgentEvent(event_type="claim", payload={"amount": 900}))
    assert isinstance(small, AgentEvent)
    assert isinstance(large, AgentEvent)
    assert (small.event_type, small.payload) == ("refund", {"amount": 5.0})
    assert (large.event_type, large.payload) == ("escalation", {"reason": "too much"})


async def test_a_given_event_type_applies_to_every_choice() -> None:
    agent = LLMAgent(chooser(), id="desk", output_type=[Refund, Escalation], event_type="decision")
    reply = await agent.react(AgentEvent(event_type="claim", payload={"amount": 900}))
    assert isinstance(reply, AgentEvent)
    assert (reply.event_type, reply.payload) == ("decision", {"reason": "too much"})
