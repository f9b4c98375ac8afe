"""LLM triage: a model reads each support ticket and answers with a typed `Triage`.

    ticket ─> triage (LLMAgent) ─> triage event ─> pager ─> page   (priority "urgent")

The `triage` agent is an `LLMAgent`: its model's structured answer becomes the
payload of a ``triage`` event, which the plain `pager` agent reacts to. By default the
model is an offline stand-in (a pydantic-ai `FunctionModel` that reads keywords), so
the example runs anywhere; pass a pydantic-ai model name to ask a real one::

    python examples/llm_triage.py
    python examples/llm_triage.py openai:gpt-4o-mini     # needs OPENAI_API_KEY
    reagents run examples/llm_triage.py                  # REAGENTS_MODEL names a model
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Literal

from pydantic import BaseModel
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import Model
from pydantic_ai.models.function import AgentInfo, FunctionModel
from rich.console import Console

from reagents import AgentEvent, LLMAgent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.ai import LLMInput
from reagents.sources.memory import MemorySource

TICKETS = [
    "Checkout is down for every customer since 9:00, we are losing orders",
    "Could you add a dark mode to the dashboard?",
    "Invoices for March show the wrong VAT rate",
]


class Triage(BaseModel):
    """What the model decides about one ticket."""

    priority: Literal["urgent", "normal", "low"]
    team: Literal["platform", "billing", "product"]
    summary: str


def offline_model() -> FunctionModel:
    """A stand-in for a real model: keyword rules, answered as a structured `Triage`."""

    def triage(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        asked = [part.content for part in last.parts if isinstance(part, UserPromptPart)]
        text = " ".join(str(content) for content in asked).lower()
        answer = {"priority": "low", "team": "product", "summary": text[:60]}
        if "down" in text or "outage" in text:
            answer |= {"priority": "urgent", "team": "platform"}
        elif "invoice" in text or "vat" in text:
            answer |= {"priority": "normal", "team": "billing"}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])

    return FunctionModel(triage, model_name="offline-triage")


def ticket_text(value: LLMInput) -> str:
    """The prompt: the ticket's text alone (the default would send the event as JSON)."""
    tickets = value if isinstance(value, list) else [value]
    return "\n".join(str(ticket.payload["text"]) for ticket in tickets)


def build(model: str | Model) -> tuple[Pipeline, MemorySink]:
    """The pipeline: an LLM triage agent, a pager reacting to urgent triages, a sink."""
    pipeline = Pipeline("support", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(
            model,
            id="triage",
            instructions="Triage this support ticket: priority, owning team, one-line summary.",
            output_type=Triage,
            subscription="type = ticket",
            prompt=ticket_text,
        )
    )

    @pipeline.agent(subscription="type = triage AND payload.priority = 'urgent'")
    def pager(event: AgentEvent) -> AgentEvent:
        return event.derive("page", {"team": event.payload["team"]})

    return pipeline, pipeline.add_sink(MemorySink(subscription="type = triage OR type = page"))


def tickets() -> list[AgentEvent]:
    """The three `TICKETS` as ``ticket`` events."""
    return [AgentEvent(event_type="ticket", payload={"text": text}) for text in TICKETS]


def build_pipeline() -> Pipeline:
    """The pipeline with the tickets as source ``tickets`` (what ``reagents run`` runs);
    the model named by ``REAGENTS_MODEL``, else the offline one."""
    pipeline, _ = build(os.environ.get("REAGENTS_MODEL") or offline_model())
    pipeline.add_source(MemorySource.from_events(tickets(), name="tickets"))
    return pipeline


def main() -> None:
    """Triage three tickets; print each decision, the pages and the model usage."""
    model: str | Model = sys.argv[1] if len(sys.argv) > 1 else offline_model()
    pipeline, sink = build(model)
    for ticket in tickets():
        pipeline.publish(ticket)
    asyncio.run(pipeline.run())
    console = Console(highlight=False, markup=False)  # wraps at the terminal width
    for event in sink.events:
        console.print(f"{event.event_type}: {event.payload}")
    agent = pipeline.get_agent("triage")
    assert isinstance(agent, LLMAgent)
    usage = agent.usage
    console.print(
        f"model usage: {usage.calls} calls, {usage.input_tokens:,} tokens in, "
        f"{usage.output_tokens:,} out"
    )


if __name__ == "__main__":
    main()
