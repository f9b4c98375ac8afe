"""Support triage: a model classifies tickets, specialists answer, doubtful cases go to people.

    ticket ─> triage (LLMAgent) ─> triage ─┬─> billing   ─┐
                                           ├─> technical ─┼─> reply ─> replies sink
                                           ├─> account   ─┘
                                           └─> human_review sink  (confidence < 0.6)

The `triage` agent is an `LLMAgent` whose structured answer (category, urgency,
confidence) becomes a ``triage`` event. Each specialist subscribes to its category,
only when the model is confident enough; a less confident triage goes to the
``human_review`` sink instead, printed at the end. One `ModelBudget` paces the model
calls. By default the model is an offline stand-in (a `FunctionModel` that counts
keywords: its confidence falls when a ticket matches no category or several), so the
example runs anywhere; name a pydantic-ai model to ask a real one::

    python examples/support_triage.py
    python examples/support_triage.py openai:gpt-4o-mini     # needs OPENAI_API_KEY
    REAGENTS_MODEL=anthropic:claude-3-5-haiku-latest python examples/support_triage.py
    reagents run examples/support_triage.py     # the model: REAGENTS_MODEL, else offline
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from typing import Literal

from pydantic import BaseModel, Field
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

from reagents import (
    Agent,
    AgentEvent,
    LLMAgent,
    MemoryDeadLetters,
    MemorySink,
    ModelBudget,
    Pipeline,
)
from reagents.ai import LLMInput
from reagents.sources.memory import MemorySource

CONFIDENT = 0.6
"""Below this confidence a triage goes to human review instead of a specialist."""

TICKETS = {
    "T-1": "I was charged twice for my invoice this month, please refund the payment",
    "T-2": "The app crashes with an error every time I upload a file, urgent",
    "T-3": "How do I change the email address and password of my account?",
    "T-4": "Something is wrong, nothing works as expected",
    "T-5": "My login fails since my last payment was refused",
    "T-6": "Checkout is down for every customer, we are losing orders asap",
    "T-7": "Please delete my account and the profile data you keep",
}

KEYWORDS = {
    "billing": ("charge", "invoice", "refund", "payment", "price", "subscription"),
    "technical": ("crash", "error", "bug", "down", "slow", "upload", "timeout"),
    "account": ("login", "password", "email", "account", "profile", "delete"),
}
URGENT = ("urgent", "asap", "down", "losing")


class Triage(BaseModel):
    """What the model decides about one ticket."""

    ticket: str = Field(description="the ticket id, as given")
    category: Literal["billing", "technical", "account"]
    urgency: Literal["low", "normal", "high"]
    confidence: float = Field(ge=0, le=1, description="how sure the classification is")


def classify(ticket: str, text: str) -> Triage:
    """The offline model's rules: the category with most keywords; fewer or tied → less sure."""
    words = text.lower()
    hits = {category: sum(k in words for k in keys) for category, keys in KEYWORDS.items()}
    ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        confidence = 0.3  # no clue: a guess
    elif top == second:
        confidence = 0.5  # two categories fit equally
    else:
        confidence = min(0.95, 0.6 + 0.15 * (top - second))
    urgency = "high" if any(word in words for word in URGENT) else "normal"
    if "please" in words and urgency == "normal":
        urgency = "low"
    category = best if top else "technical"
    return Triage(ticket=ticket, category=category, urgency=urgency, confidence=confidence)


def offline_model() -> FunctionModel:
    """A stand-in for a real model: `classify`'s rules, answered as a structured `Triage`."""

    def triage(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1]
        assert isinstance(last, ModelRequest)
        asked = " ".join(str(p.content) for p in last.parts if isinstance(p, UserPromptPart))
        found = re.match(r"Ticket (\S+): (.*)", asked, re.DOTALL)
        assert found is not None, asked
        answer = classify(found[1], found[2]).model_dump()
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, answer)])

    return FunctionModel(triage, model_name="offline-triage")


def ticket_prompt(value: LLMInput) -> str:
    """The prompt: the ticket's id and text (the default would send the event as JSON)."""
    tickets = value if isinstance(value, list) else [value]
    return "\n".join(f"Ticket {t.payload['id']}: {t.payload['text']}" for t in tickets)


ANSWERS = {
    "billing": "Our billing team checked your account and will correct the charge.",
    "technical": "Our engineers are on it; we will write as soon as it is fixed.",
    "account": "Here is how to change your account settings, or we do it for you.",
}


def specialist(category: str) -> Agent[AgentEvent]:
    """A plain agent answering the triages of ``category`` the model is sure about."""

    def reply(event: AgentEvent) -> AgentEvent:
        ticket, urgency = event.payload["ticket"], event.payload["urgency"]
        text = f"[{urgency}] {ANSWERS[category]}"
        return event.derive("reply", {"ticket": ticket, "team": category, "text": text})

    confident = f"payload.confidence >= {CONFIDENT}"
    subscription = f"type = triage AND payload.category = '{category}' AND {confident}"
    return Agent(reply, id=category, subscription=subscription)


def build(model: str | Model, budget: ModelBudget) -> tuple[Pipeline, MemorySink, MemorySink]:
    """The pipeline, its replies sink and its human review sink."""
    pipeline = Pipeline("support", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(
            model,
            id="triage",
            instructions=(
                "Classify this support ticket: its category, its urgency, and how confident "
                "you are (0 to 1; below 0.6 a person reviews it). Echo the ticket id."
            ),
            output_type=Triage,
            subscription="type = ticket",
            prompt=ticket_prompt,
            budget=budget,
        )
    )
    for category in ANSWERS:
        pipeline.add_agent(specialist(category))
    replies = pipeline.add_sink(MemorySink("type = reply", name="replies"))
    doubtful = f"type = triage AND payload.confidence < {CONFIDENT}"
    review = pipeline.add_sink(MemorySink(doubtful, name="human_review"))
    return pipeline, replies, review


def chosen_model() -> str | Model:
    """The model named on the command line or in ``REAGENTS_MODEL``, else the offline one."""
    name = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("REAGENTS_MODEL")
    return name or offline_model()


def tickets() -> list[AgentEvent]:
    """The `TICKETS` as ``ticket`` events."""
    return [
        AgentEvent(event_type="ticket", payload={"id": ticket, "text": text})
        for ticket, text in TICKETS.items()
    ]


def build_pipeline() -> Pipeline:
    """The pipeline with the tickets as source ``tickets`` (what ``reagents run`` runs);
    the model named by ``REAGENTS_MODEL`` (never the command line's words), else offline."""
    budget = ModelBudget(requests_per_minute=120, tokens_per_minute=40_000)
    pipeline, _, _ = build(os.environ.get("REAGENTS_MODEL") or offline_model(), budget)
    pipeline.add_source(MemorySource.from_events(tickets(), name="tickets"))
    return pipeline


def main() -> None:
    """Triage the tickets; print the replies, the cases for people, and the model usage."""
    budget = ModelBudget(requests_per_minute=120, tokens_per_minute=40_000)
    pipeline, replies, review = build(chosen_model(), budget)
    for ticket in tickets():
        pipeline.publish(ticket)
    asyncio.run(pipeline.run())
    console = Console(highlight=False, markup=False)  # wraps at the terminal width
    for event in sorted(replies.events, key=lambda e: str(e.payload["ticket"])):
        console.print(
            f"reply {event.payload['ticket']} ({event.payload['team']}): {event.payload['text']}"
        )
    for event in sorted(review.events, key=lambda e: str(e.payload["ticket"])):
        p = event.payload
        console.print(
            f"human review {p['ticket']}: {p['category']}? confidence {p['confidence']:.2f}"
        )
    agent = pipeline.get_agent("triage")
    assert isinstance(agent, LLMAgent)
    usage = agent.usage
    console.print(
        f"model usage: {usage.calls} calls, {usage.input_tokens:,} tokens in, "
        f"{usage.output_tokens:,} out"
    )


if __name__ == "__main__":
    main()
