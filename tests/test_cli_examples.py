"""The CLI keeps its word on the examples: run and replay agree, drawing a pipeline has
no side effects, every example runs, the loader names what a file defines, and a
failed ``--out`` leaves no empty file."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reagents.cli import USAGE, app
from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.memory import MemorySink
from tests.examples import EXAMPLES

pytestmark = pytest.mark.integration

TRADING = EXAMPLES / "trading.py"
MARKET = EXAMPLES / "data" / "market.jsonl"
OUTPUTS = ("signals.jsonl", "vwap.jsonl", "orders.jsonl")
RUNNABLE = ("trading", "ecommerce", "choreography", "support_triage", "llm_triage")
EVERY_EXAMPLE = (*RUNNABLE, "order_service")


@pytest.fixture
def cli() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture(autouse=True)
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """The LLM examples use their offline model, whatever the environment names."""
    monkeypatch.delenv("REAGENTS_MODEL", raising=False)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a digest of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture
def examples_untouched() -> Iterator[None]:
    before = snapshot(EXAMPLES)
    yield
    assert snapshot(EXAMPLES) == before


def test_replay_gives_the_same_result_as_run(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The replay keeps the replaced source's batch size (1): the trader and the risk
    agent see windows and alerts in the same order, so the same trades come out."""
    (tmp_path / "run").mkdir()
    (tmp_path / "replay").mkdir()
    monkeypatch.chdir(tmp_path / "run")
    ran = cli("run", TRADING, "--no-progress")
    assert ran.exit_code == 0, ran.output
    monkeypatch.chdir(tmp_path / "replay")
    replayed = cli("replay", MARKET, "-p", TRADING, "--no-progress")
    assert replayed.exit_code == 0, replayed.output
    assert "with their batch size 1" in replayed.stderr
    for name in OUTPUTS:
        run_out = (tmp_path / "run" / "out" / "trading" / name).read_bytes()
        assert run_out, name
        assert (tmp_path / "replay" / "out" / "trading" / name).read_bytes() == run_out, name
    assert "ingested 3,000" in ran.stdout
    assert "ingested 3,000" in replayed.stdout


@pytest.mark.parametrize("example", EVERY_EXAMPLE)
@pytest.mark.usefixtures("examples_untouched")
def test_graph_and_asyncapi_have_no_side_effects(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example: str
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("graph", "asyncapi"):
        result = cli(command, EXAMPLES / f"{example}.py")
        assert result.exit_code == 0, result.output
        assert result.stdout.strip()
    assert list(tmp_path.iterdir()) == []


def test_graph_leaves_the_previous_outputs_alone(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing trading used to delete ``out/trading/signals.jsonl`` (its previous run's)."""
    outputs = tmp_path / "out" / "trading"
    outputs.mkdir(parents=True)
    for name in OUTPUTS:
        (outputs / name).write_text("from the last run\n")
    monkeypatch.chdir(tmp_path)
    assert cli("graph", TRADING).exit_code == 0
    assert cli("asyncapi", TRADING).exit_code == 0
    for name in OUTPUTS:
        assert (outputs / name).read_text() == "from the last run\n"
    assert sorted(p.name for p in outputs.iterdir()) == sorted(OUTPUTS)


@pytest.mark.parametrize("example", EVERY_EXAMPLE)
def test_every_example_runs_from_the_cli(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = cli("run", EXAMPLES / f"{example}.py", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "error" not in result.stderr
    assert "finished in" in result.stdout
    if example in RUNNABLE:  # order_service is a service: events come over HTTP
        assert "ingested 0 " not in result.stdout
        assert "dead letters 0" in result.stdout


def collect(pipeline: Pipeline) -> list[AgentEvent]:
    seen: list[AgentEvent] = []
    pipeline.events.subscribe(seen.append)
    return seen


async def test_ecommerce_build_pipeline_runs_each_orders_saga() -> None:
    from reagents.cli import load_pipeline

    pipeline = load_pipeline(str(EXAMPLES / "ecommerce.py"))
    seen = collect(pipeline)
    await pipeline.run()
    closed = {
        e.payload["order_id"]: e.payload["status"] for e in seen if e.event_type == "order.closed"
    }
    assert closed == {
        "order-ok": "completed",
        "order-declined": "compensated",
        "order-unshippable": "compensated",
    }
    (outcomes,) = [sink for sink in pipeline.sinks if sink.name == "outcomes"]
    assert isinstance(outcomes, MemorySink)
    assert len(outcomes.events) == 3
    coordinator = vars(outcomes)["coordinator"]  # the example's Outcomes sink closed it
    with pytest.raises(sqlite3.ProgrammingError):
        coordinator.store.get("order-ok")


async def test_choreography_build_pipeline_places_both_orders() -> None:
    from reagents.cli import load_pipeline

    pipeline = load_pipeline(str(EXAMPLES / "choreography.py"))
    seen = collect(pipeline)
    await pipeline.run()
    last = {e.correlation_id: e.event_type for e in seen}
    assert last == {"order-1": "order.shipped", "order-2": "stock.released"}


def test_loader_lists_what_the_file_defines_not_its_imports(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    source = """\
        from __future__ import annotations

        import json
        from pathlib import Path

        from reagents.pipelines.pipeline import Pipeline

        LIMIT: int = 3
        first, second = 1, 2


        class Shop:
            pass


        def make_pipeline() -> Pipeline:
            return Pipeline("x")


        def _private() -> None:
            pass
        """
    path = tmp_path / "app.py"
    path.write_text(textwrap.dedent(source))
    result = cli("run", path)
    assert result.exit_code == USAGE
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert error.endswith("found: LIMIT, first, second, Shop, make_pipeline"), error
    for imported in ("annotations", "json", "Path", "Pipeline"):
        assert f" {imported}," not in error


def test_replay_kafka_out_leaves_no_empty_file_when_it_fails(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    out = tmp_path / "replayed" / "market.jsonl"
    result = cli("replay", "--kafka", "market", "--out", out, "--bootstrap", "127.0.0.1:1")
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not out.parent.exists()


def test_replay_of_a_log_refuses_out(cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "copy.jsonl"
    result = cli("replay", MARKET, "-p", TRADING, "--out", out)
    assert result.exit_code == USAGE
    assert "--out" in result.stderr
    assert not out.exists()


def test_asyncapi_out_is_written_whole_or_not_at_all(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A disk that fills up half way leaves neither an empty nor a half ``--out`` file,
    and an earlier document stays as it was."""
    out = tmp_path / "asyncapi.json"

    def disk_full(self: Path, data: str, *args: object, **kwargs: object) -> int:
        with open(self, "w") as file:
            file.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_text", disk_full)
    result = cli("asyncapi", TRADING, "--out", out)
    assert result.exit_code == USAGE
    assert "No space left on device" in result.stderr
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    out.write_text("the last document\n")
    monkeypatch.setattr(Path, "write_text", disk_full)
    assert cli("asyncapi", TRADING, "--out", out).exit_code == USAGE
    assert out.read_text() == "the last document\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["asyncapi.json"]
