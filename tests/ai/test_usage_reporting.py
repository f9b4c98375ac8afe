"""Model usage in the stats table and the CLI summary: requests, tokens, cost."""

from __future__ import annotations

from pydantic_ai.models.test import TestModel
from rich.console import Console

from reagents import AgentEvent, MemoryDeadLetters, MemorySource, Pipeline
from reagents.ai import LLMAgent
from reagents.cli.reporting import Outcome, summary
from tests.ai.models import Verdict


async def priced_run() -> Pipeline:
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(TestModel(), id="analyst", output_type=Verdict, prices={"test": (1.0, 4.0)})
    )

    @pipeline.agent(subscription="type = verdict")
    async def archive(event: AgentEvent) -> None:
        return None

    ticks = [AgentEvent(event_type="tick", payload={"n": n}) for n in range(3)]
    pipeline.add_source(MemorySource.from_events(ticks))
    await pipeline.run()
    return pipeline


async def test_the_stats_table_adds_a_model_usage_table_for_llm_agents() -> None:
    stats = (await priced_run()).stats()
    head, *rows = stats.model_rows()
    assert head == ["LLM agent", "requests", "tokens in", "tokens out", "cost USD"]
    assert [row[:2] for row in rows] == [["analyst", "3"]]  # `archive` called no model
    snap = stats["analyst"]
    cost = (snap.input_tokens * 1.0 + snap.output_tokens * 4.0) / 1e6
    assert rows[0][2:] == [str(snap.input_tokens), str(snap.output_tokens), f"{cost:.4f}"]
    assert "LLM agent" in str(stats)
    assert "<th>LLM agent</th>" in stats._repr_html_()


async def test_a_pipeline_without_llm_agents_shows_no_model_table() -> None:
    pipeline = Pipeline("plain", dead_letters=MemoryDeadLetters())
    pipeline.agent(id="noop", subscription="type = tick")(lambda event: None)
    pipeline.add_source(MemorySource.from_events([AgentEvent(event_type="tick")]))
    await pipeline.run()
    assert pipeline.stats().model_rows() == []
    assert "LLM agent" not in str(pipeline.stats())


async def test_the_cli_summary_prints_model_usage_within_80_columns() -> None:
    pipeline = await priced_run()
    console = Console(width=80, record=True, color_system=None)
    summary(console, pipeline, Outcome.FINISHED, 1.0)
    text = console.export_text()
    assert "model usage" in text
    assert "analyst" in text.split("model usage")[1]
    assert max(len(line) for line in text.splitlines()) <= 80
