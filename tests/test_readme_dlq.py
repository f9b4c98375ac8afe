"""The README's ``reagents dlq`` commands run as written, and its ``--kafka`` replay
names a topic the trading example writes."""

from __future__ import annotations

import re
import shlex
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reagents.cli import app
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent
from tests.examples import load_example

README = Path(__file__).resolve().parents[1] / "README.md"
BASH = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
COMMANDS = [
    line.split("  #")[0].strip()
    for block in BASH
    for line in block.splitlines()
    if line.startswith("reagents ")
]
DLQ = [c for c in COMMANDS if c.startswith("reagents dlq ")]

APP = """\
from pathlib import Path

from reagents import Pipeline
from reagents.sinks.file import FileSink


def ship(event):
    return event.derive("shipped", event.payload)


def build_pipeline():
    pipeline = Pipeline("shipping", dead_letters=Path("new_dead_letters.jsonl"))
    pipeline.add_sink(FileSink(Path("out.jsonl")))
    pipeline.agent(subscription="type = order")(ship)
    return pipeline
"""


def test_the_readme_shows_every_dlq_command_with_its_file() -> None:
    assert {c.split()[2] for c in DLQ} >= {"list", "show", "replay"}
    text = README.read_text()
    # `dlq show` takes FILE and ID, wherever the README mentions it
    assert re.findall(r"dlq show (\S+) (\S+)", text)
    for file, _ in re.findall(r"dlq show (\S+) (\S+)", text):
        assert file.endswith(".jsonl"), file


def test_the_readme_dlq_commands_run_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    failed = DeadLetter.from_error(
        FailureStage.AGENT,
        ValueError("the warehouse was down"),
        event=AgentEvent(event_type="order", payload={"n": 1}),
        agent_id="ship",
        origin="orders.jsonl:1",
    ).model_copy(update={"dead_letter_id": "3f2a9c1e-0000-4000-8000-000000000000"})
    Path("dead_letters.jsonl").write_bytes(failed.to_json() + b"\n")
    Path("app.py").write_text(textwrap.dedent(APP))
    runnable = [c for c in DLQ if not re.search(r"\b[A-Z]{4,}\b", c)]  # no TOPIC, HOST:PORT
    assert len(runnable) >= 3
    for command in runnable:
        result = CliRunner().invoke(app, shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.output}"
    assert Path("dead_letters.jsonl.resolved").read_text().split() == [failed.dead_letter_id]
    assert "shipped" in Path("out.jsonl").read_text()


def test_the_readme_kafka_replay_names_a_topic_the_trading_example_writes() -> None:
    topics = re.findall(r"replay --kafka (\S+)", README.read_text())
    assert topics
    assert set(topics) == {load_example("trading").SIGNALS_TOPIC}
