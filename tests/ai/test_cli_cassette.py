"""``reagents replay LOG --cassette FILE``: the pipeline's LLM agents answer from the
recorded cassette and never call their model; bad cassette arguments are one-line errors."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

from typer.testing import CliRunner, Result

from reagents import AgentEvent
from reagents.ai import Cassette, LLMAgent
from reagents.cli import DEAD_LETTERS, app
from reagents.events import encode_event
from tests.ai.models import Verdict, answering

PIPELINE = """\
from pathlib import Path

from pydantic_ai.messages import ModelResponse
from pydantic_ai.models.function import FunctionModel

from reagents.ai import LLMAgent
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.file import FileSink
from tests.ai.models import Verdict

HERE = Path(__file__).parent


def refuse(messages, info) -> ModelResponse:
    raise AssertionError("the model was called during a replay")


pipeline = Pipeline("desk", dead_letters=HERE / "dead.jsonl")
pipeline.add_sink(FileSink(HERE / "out.jsonl", subscription="type = verdict"))
pipeline.add_agent(
    LLMAgent(
        FunctionModel(refuse, model_name="fake-model"),
        id="analyst",
        output_type=Verdict,
        subscription="type = tick",
    )
)
"""


def tick(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


def replay(*args: str | Path) -> Result:
    return CliRunner().invoke(app, ["replay", *(str(a) for a in args), "--no-progress"])


def record(path: Path, *events: AgentEvent) -> None:
    """Record the agent's answers to ``events`` (the CLI runs its own event loop, so
    these tests are synchronous)."""
    agent = LLMAgent(
        answering([]), id="analyst", output_type=Verdict, cassette=Cassette(path, "record")
    )
    for event in events:
        asyncio.run(agent.react(event))


def setup(tmp_path: Path) -> tuple[Path, Path]:
    pipeline = tmp_path / "desk.py"
    pipeline.write_text(textwrap.dedent(PIPELINE))
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"".join(encode_event(tick(n)) + b"\n" for n in range(3)))
    return pipeline, log


def test_the_pipelines_llm_agents_answer_from_the_cassette(tmp_path: Path) -> None:
    pipeline, log = setup(tmp_path)
    record(tmp_path / "llm.jsonl", *(tick(n) for n in range(3)))
    result = replay(log, "-p", pipeline, "--cassette", tmp_path / "llm.jsonl")
    assert result.exit_code == 0, result.output
    outputs = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["payload"] for o in outputs] == [{"label": "buy", "confidence": 0.9}] * 3


def test_a_request_missing_from_the_cassette_is_dead_lettered(tmp_path: Path) -> None:
    pipeline, log = setup(tmp_path)
    record(tmp_path / "llm.jsonl", tick(0), tick(1))
    result = replay(log, "-p", pipeline, "--cassette", tmp_path / "llm.jsonl")
    assert result.exit_code == DEAD_LETTERS, result.output
    [letter] = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert "no recorded response for request" in json.dumps(letter)


def test_a_missing_cassette_or_one_without_llm_agents_is_an_error(tmp_path: Path) -> None:
    pipeline, log = setup(tmp_path)
    result = replay(log, "-p", pipeline, "--cassette", tmp_path / "absent.jsonl")
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    plain = tmp_path / "plain.py"
    plain.write_text("from reagents.pipelines.pipeline import Pipeline\npipeline = Pipeline('p')\n")
    (tmp_path / "llm.jsonl").write_text("")
    result = replay(log, "-p", plain, "--cassette", tmp_path / "llm.jsonl")
    assert result.exit_code == 2
    assert "has no LLM agents" in result.stderr
