"""LLM triage: the model's typed answer becomes an event another agent reacts to."""

from __future__ import annotations

from pathlib import Path

from reagents import AgentEvent
from tests.examples import load_example, run_example

triage = load_example("llm_triage")


async def test_each_ticket_is_triaged_and_the_urgent_one_pages_its_team() -> None:
    pipeline, sink = triage.build(triage.offline_model())
    for text in triage.TICKETS:
        pipeline.publish(AgentEvent(event_type="ticket", payload={"text": text}))
    await pipeline.run()
    decisions = [e.payload for e in sink.events if e.event_type == "triage"]
    assert [(d["priority"], d["team"]) for d in decisions] == [
        ("urgent", "platform"),
        ("low", "product"),
        ("normal", "billing"),
    ]
    assert [e.payload for e in sink.events if e.event_type == "page"] == [{"team": "platform"}]
    assert pipeline.get_agent("triage").usage.calls == 3


def test_the_example_runs_offline(tmp_path: Path) -> None:
    out = run_example("llm_triage", cwd=tmp_path)
    assert "page: {'team': 'platform'}" in out
    assert "model usage: 3 calls," in out
    assert max(len(line) for line in out.splitlines()) <= 80
