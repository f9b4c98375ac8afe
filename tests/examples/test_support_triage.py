"""Support triage: the model's classification routes each ticket to its specialist, and
the doubtful ones (confidence under 0.6) to human review instead."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from pydantic_ai.models.function import FunctionModel

from reagents import AgentEvent, ModelBudget
from tests.examples import load_example, run_example

support = load_example("support_triage")


async def test_confident_tickets_reach_their_specialist_and_doubtful_ones_people() -> None:
    budget = ModelBudget(requests_per_minute=600)
    pipeline, replies, review = support.build(support.offline_model(), budget)
    for ticket, text in support.TICKETS.items():
        pipeline.publish(AgentEvent(event_type="ticket", payload={"id": ticket, "text": text}))
    await pipeline.run()
    routed = sorted((e.payload["ticket"], e.payload["team"]) for e in replies.events)
    assert routed == [
        ("T-1", "billing"),
        ("T-2", "technical"),
        ("T-3", "account"),
        ("T-6", "technical"),
        ("T-7", "account"),
    ]
    doubtful = sorted((e.payload["ticket"], e.payload["confidence"]) for e in review.events)
    assert doubtful == [("T-4", 0.3), ("T-5", 0.5)]
    urgent = {e.payload["ticket"] for e in replies.events if "[high]" in e.payload["text"]}
    assert urgent == {"T-2", "T-6"}
    assert pipeline.get_agent("triage").usage.calls == len(support.TICKETS)
    assert budget.calls == len(support.TICKETS)


def test_the_model_comes_from_the_command_line_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sys, "argv", ["support_triage.py"])
    monkeypatch.delenv("REAGENTS_MODEL", raising=False)
    assert isinstance(support.chosen_model(), FunctionModel)
    monkeypatch.setenv("REAGENTS_MODEL", "openai:gpt-4o-mini")
    assert support.chosen_model() == "openai:gpt-4o-mini"
    monkeypatch.setattr(sys, "argv", ["support_triage.py", "anthropic:claude-3-5-haiku-latest"])
    assert support.chosen_model() == "anthropic:claude-3-5-haiku-latest"


def test_the_example_runs_offline(tmp_path: Path) -> None:
    out = run_example("support_triage", cwd=tmp_path)
    assert "reply T-2 (technical): [high]" in out
    assert "human review T-4: technical? confidence 0.30" in out
    assert "human review T-5: billing? confidence 0.50" in out
    assert "model usage: 7 calls," in out
    assert max(len(line) for line in out.splitlines()) <= 80
