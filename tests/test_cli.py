"""The ``reagents`` CLI: run, replay, dlq list/show/replay, graph, errors and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from reagents.cli import DEAD_LETTERS, app
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, encode_event

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

HEADER = """\
from pathlib import Path

from reagents.operators.filters import where_type
from reagents.policies import Backoff
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.file import FileSink
from reagents.sources.file import FileSource

HERE = Path(__file__).parent


def shipper(event):
    if event.payload.get("poison") and not (HERE / "fixed").exists():
        raise ValueError("cannot ship [poison|pill]")
    return event.derive("shipped", {"n": event.payload["n"]})


def make(name="orders", sources=()):
    p = Pipeline(name, sources=sources, dead_letters=HERE / "dead.jsonl")
    p.add_sink(FileSink(HERE / "out.jsonl", subscription=where_type("shipped")))
    p.agent(subscription="type = order", retry=Backoff(max_retries=1, initial=0.001))(shipper)
    return p
"""

RUNNABLE = (
    HEADER
    + """
pipeline = make(sources=[FileSource(HERE / "events.jsonl", checkpoint_path=HERE / "cp")])
"""
)

AGENTS_ONLY = (
    HEADER
    + """
def build_pipeline():
    return make()
"""
)


def write_events(path: Path, count: int = 5, poison: int = 3, *, bad_line: bool = True) -> Path:
    lines = [
        encode_event(
            AgentEvent(
                event_type="order",
                payload={"n": n, "poison": n == poison},
                timestamp=T0 + timedelta(minutes=n),
            )
        )
        for n in range(count)
    ]
    path.write_bytes(b"\n".join([*lines, b"not json"] if bad_line else lines) + b"\n")
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture
def cli() -> Callable[..., Result]:
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args])

    return invoke


@pytest.fixture
def runnable(tmp_path: Path) -> Path:
    write_events(tmp_path / "events.jsonl")
    return write(tmp_path / "runnable.py", RUNNABLE)


@pytest.fixture
def agents_only(tmp_path: Path) -> Path:
    return write(tmp_path / "agents.py", AGENTS_ONLY)


@pytest.fixture
def dead_letters(cli: Callable[..., Result], runnable: Path) -> Path:
    assert cli("run", runnable).exit_code == DEAD_LETTERS
    return runnable.parent / "dead.jsonl"


def assert_one_line_error(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    for fragment in fragments:
        assert fragment in error


# ---------------------------------------------------------------------------- run


def test_run_prints_summary_and_writes_outputs(cli: Callable[..., Result], runnable: Path) -> None:
    result = cli("run", runnable, "--no-fail-on-dead-letters")
    assert result.exit_code == 0, result.output
    assert "pipeline 'orders' finished" in result.stdout
    where = runnable.parent / "dead.jsonl"
    assert f"ingested 6 · emitted 4 · dead letters 2 → {where}" in result.stdout
    assert "shipper" in result.stdout
    assert "sink:file:out.jsonl" in result.stdout
    shipped = lines(runnable.parent / "out.jsonl")
    assert sorted(e["payload"]["n"] for e in shipped) == [0, 1, 2, 4]
    stages = sorted(str(d["stage"]) for d in lines(runnable.parent / "dead.jsonl"))
    assert stages == ["agent", "decode"]


def test_run_says_where_dead_letters_go_and_exits_3_when_it_wrote_some(
    cli: Callable[..., Result], runnable: Path
) -> None:
    result = cli("run", runnable)
    assert result.exit_code == DEAD_LETTERS == 3, result.output
    where = runnable.parent / "dead.jsonl"
    assert f"dead letters → {where}" in result.stderr.splitlines()[1]  # said at start
    assert "ingested 6 · emitted 4 · dead letters 2" in result.stdout  # the summary still
    assert_one_line_error(
        result, DEAD_LETTERS, "2 dead letter(s) written", str(where), "--no-fail-on-dead-letters"
    )


def test_run_without_dead_letters_exits_0(cli: Callable[..., Result], tmp_path: Path) -> None:
    write_events(tmp_path / "events.jsonl", count=2, poison=-1, bad_line=False)
    clean = write(tmp_path / "clean.py", RUNNABLE)
    result = cli("run", clean)
    assert result.exit_code == 0, result.output
    assert "dead letters 0" in result.stdout
    assert not (tmp_path / "dead.jsonl").exists()


def test_run_of_a_pipeline_without_dead_letter_sink_says_they_are_not_saved(
    cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write_events(tmp_path / "events.jsonl", count=1, poison=0)
    source = write(
        tmp_path / "bare.py",
        """\
        from pathlib import Path
        from reagents.pipelines.pipeline import Pipeline
        from reagents.policies import Backoff
        from reagents.sources.file import FileSource

        HERE = Path(__file__).parent
        source = FileSource(HERE / "events.jsonl", checkpoint_path=HERE / "cp")
        pipeline = Pipeline(sources=[source])

        @pipeline.agent(subscription="type = order", retry=Backoff(max_retries=0))
        def shipper(event):
            raise ValueError("cannot ship")
        """,
    )
    result = cli("run", source)
    assert "dead letters → memory, not saved (the last 1,000)" in result.stderr
    assert "dead_letters=" in result.stderr
    assert_one_line_error(result, DEAD_LETTERS, "2 dead letter(s) written", "not saved")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.py", "cp", "events.jsonl"]


def test_run_picks_a_named_pipeline_or_factory(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write(
        tmp_path / "two.py",
        AGENTS_ONLY
        + """
first = make("first")
second = make("second")

def third():
    return make("third")
""",
    )
    assert "pipeline 'second' finished" in cli("run", f"{source}:second").stdout
    assert "pipeline 'third' finished" in cli("run", f"{source}:third").stdout


def test_run_uses_build_pipeline_when_there_is_no_instance(
    cli: Callable[..., Result], agents_only: Path
) -> None:
    result = cli("run", agents_only)
    assert result.exit_code == 0, result.output
    assert "pipeline 'orders' finished" in result.stdout
    assert "has no sources" in result.stderr


def test_run_missing_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert_one_line_error(cli("run", tmp_path / "nope.py"), 2, "nope.py", "does not exist")


def test_run_file_without_pipeline_lists_what_it_found(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    source = write(tmp_path / "empty.py", "LIMIT = 3\n\ndef helper():\n    pass\n")
    assert_one_line_error(cli("run", source), 2, "no pipeline in", "found: LIMIT, helper")


def test_run_ambiguous_pipelines_are_named(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write(tmp_path / "two.py", AGENTS_ONLY + "a = make('a')\nb = make('b')\n")
    assert_one_line_error(cli("run", source), 2, "defines 2 pipelines (a, b)", f"{source}:a")


def test_run_unknown_name_and_non_pipeline(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write(tmp_path / "p.py", AGENTS_ONLY + "count = 3\n")
    assert_one_line_error(cli("run", f"{source}:missing"), 2, "no attribute 'missing'")
    assert_one_line_error(cli("run", f"{source}:count"), 2, "is a int, not a Pipeline")


def test_filter_syntax_error_in_file_is_one_line_at_its_line(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    source = write(
        tmp_path / "bad.py",
        """\
        from reagents.pipelines.pipeline import Pipeline
        pipeline = Pipeline()
        pipeline.agent(subscription="type = = order")(print)
        """,
    )
    assert_one_line_error(cli("run", source), 2, f"{source}:3: FilterSyntaxError")


def test_configuration_error_and_crash_in_file(cli: Callable[..., Result], tmp_path: Path) -> None:
    bad = write(
        tmp_path / "bad.py",
        "from reagents.pipelines.pipeline import Pipeline\npipeline = Pipeline(max_depth=0)\n",
    )
    assert_one_line_error(cli("run", bad), 2, f"{bad}:2: ConfigurationError: max_depth")
    crash = write(tmp_path / "crash.py", "x = 1\nraise RuntimeError('boom')\n")
    assert_one_line_error(cli("run", crash), 1, f"{crash}:2: RuntimeError: boom")


def test_failing_source_ends_with_exit_code_1(cli: Callable[..., Result], tmp_path: Path) -> None:
    source = write(
        tmp_path / "failing.py",
        """\
        from reagents.pipelines.pipeline import Pipeline
        from reagents.sources.base import Source

        class Broken(Source):
            name = "broken"

            async def batches(self):
                raise OSError("disk on fire")
                yield []

        pipeline = Pipeline(sources=[Broken()])
        """,
    )
    assert_one_line_error(cli("run", source), 1, "source 'broken' failed", "disk on fire")


# ---------------------------------------------------------------------------- replay


def test_replay_runs_the_log_through_the_pipeline(
    cli: Callable[..., Result], agents_only: Path
) -> None:
    log = write_events(agents_only.parent / "log.jsonl")
    result = cli("replay", log, "--pipeline", agents_only, "--no-progress")
    assert result.exit_code == DEAD_LETTERS, result.output
    assert "ingested 6 · emitted 4 · dead letters 2" in result.stdout
    assert len(lines(agents_only.parent / "out.jsonl")) == 4
    assert not (agents_only.parent / "log.jsonl.checkpoint").exists()


def test_replay_replaces_the_pipelines_own_sources(
    cli: Callable[..., Result], runnable: Path
) -> None:
    log = write_events(runnable.parent / "log.jsonl", count=2, poison=-1)
    result = cli("replay", log, "--pipeline", runnable, "--no-fail-on-dead-letters")
    assert result.exit_code == 0, result.output
    assert "replaying instead of the pipeline's own sources" in result.stderr
    assert "ingested 3" in result.stdout  # the log's 2 events and its bad line, nothing else


def test_replay_since_skips_older_events(cli: Callable[..., Result], agents_only: Path) -> None:
    log = write_events(agents_only.parent / "log.jsonl", poison=-1)
    since = (T0 + timedelta(minutes=3)).isoformat()
    result = cli("replay", log, "-p", agents_only, "--since", since, "--no-fail-on-dead-letters")
    assert result.exit_code == 0, result.output
    assert sorted(e["payload"]["n"] for e in lines(agents_only.parent / "out.jsonl")) == [3, 4]


def test_replay_with_progress_shows_bytes(cli: Callable[..., Result], agents_only: Path) -> None:
    log = write_events(agents_only.parent / "log.jsonl")
    result = cli("replay", log, "-p", agents_only, "--progress", "--no-fail-on-dead-letters")
    assert result.exit_code == 0, result.output
    size = log.stat().st_size
    assert f"{size / 1024:,.1f} kB / {size / 1024:,.1f} kB" in result.stderr
    assert "6 in" in result.stderr


def test_replay_bad_input(cli: Callable[..., Result], agents_only: Path) -> None:
    log = write_events(agents_only.parent / "log.jsonl")
    assert_one_line_error(
        cli("replay", log, "-p", agents_only, "--since", "yesterday"), 2, "--since", "ISO-8601"
    )
    assert_one_line_error(
        cli("replay", agents_only.parent / "nope.jsonl", "-p", agents_only), 2, "does not exist"
    )
    assert_one_line_error(cli("replay", log, "-p", agents_only, "--speed", "0"), 2, "speed")


# ---------------------------------------------------------------------------- dlq


def test_dlq_list(cli: Callable[..., Result], dead_letters: Path) -> None:
    ids = [str(d["dead_letter_id"]) for d in lines(dead_letters)]
    result = cli("dlq", "list", dead_letters)
    assert result.exit_code == 0, result.output
    assert "2 dead letters" in result.stdout
    for fragment in ("ValueError", "shipper", "cannot ship [poison|pill]", "decode", ids[0][:8]):
        assert fragment in result.stdout
    only_agent = cli("dlq", "list", dead_letters, "--stage", "agent")
    assert "1 dead letters" in only_agent.stdout
    assert "EventDecodeError" not in only_agent.stdout
    assert "no dead letters" in cli("dlq", "list", dead_letters, "--agent", "nobody").stdout


def test_dlq_show_accepts_a_unique_prefix(cli: Callable[..., Result], dead_letters: Path) -> None:
    letter = next(d for d in lines(dead_letters) if d["stage"] == "agent")
    result = cli("dlq", "show", dead_letters, str(letter["dead_letter_id"])[:6])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == letter
    # where the agent raised: stored in the letter, printed readably on stderr
    assert 'raise ValueError("cannot ship [poison|pill]")' in str(letter["traceback"])
    assert "traceback of the last failure:" in result.stderr
    assert 'raise ValueError("cannot ship [poison|pill]")' in result.stderr


def test_dlq_show_unknown_and_ambiguous_ids(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    letters = [
        DeadLetter.from_error(FailureStage.DECODE, ValueError("x"), raw=b"?").model_copy(
            update={"dead_letter_id": f"abc{n}"}
        )
        for n in (1, 2)
    ]
    path.write_bytes(b"".join(letter.to_json() + b"\n" for letter in letters))
    assert_one_line_error(cli("dlq", "show", path, "zzz"), 2, "no dead letter with id 'zzz'")
    assert_one_line_error(cli("dlq", "show", path, "abc"), 2, "matches 2 dead letters")
    shown = cli("dlq", "show", path, "abc2")
    assert json.loads(shown.stdout)["dead_letter_id"] == "abc2"
    assert "raw bytes as text: ?" in shown.stderr
    assert_one_line_error(cli("dlq", "list", tmp_path / "nope.jsonl"), 2, "does not exist")


def test_dlq_replay_selected_letters(
    cli: Callable[..., Result], dead_letters: Path, agents_only: Path
) -> None:
    (agents_only.parent / "fixed").touch()  # the agent no longer fails on poison
    before = len(lines(agents_only.parent / "out.jsonl"))
    result = cli("dlq", "replay", dead_letters, "-p", agents_only, "--stage", "agent")
    assert result.exit_code == 0, result.output
    assert "ingested 1 · emitted 1 · dead letters 0" in result.stdout
    shipped = lines(agents_only.parent / "out.jsonl")
    assert len(shipped) == before + 1
    assert shipped[-1]["payload"] == {"n": 3}


def test_dlq_replay_decodes_raw_bytes_again(
    cli: Callable[..., Result], dead_letters: Path, agents_only: Path
) -> None:
    result = cli("dlq", "replay", dead_letters, "-p", agents_only, "--stage", "decode")
    assert result.exit_code == DEAD_LETTERS, result.output  # it failed again
    assert "ingested 1 · emitted 0 · dead letters 1" in result.stdout
    assert [d["stage"] for d in lines(dead_letters)][-1] == "decode"
    assert (
        "nothing to replay"
        in cli("dlq", "replay", dead_letters, "-p", agents_only, "--agent", "x").stderr
    )


# ---------------------------------------------------------------------------- graph


def test_graph_text_mermaid_and_json(cli: Callable[..., Result], runnable: Path) -> None:
    text = cli("graph", runnable)
    assert text.exit_code == 0, text.output
    assert "agent shipper" in text.stdout
    assert "subscription: type = order" in text.stdout
    assert "→ dead letters: failures" in text.stdout
    mermaid = cli("graph", runnable, "--format", "mermaid").stdout
    assert mermaid.startswith("flowchart LR")
    assert '["shipper' in mermaid
    data = json.loads(cli("graph", runnable, "-f", "json").stdout)
    assert {n["id"] for n in data["nodes"] if n["kind"] == "agent"} == {"agent:shipper"}


def test_graph_rejects_unknown_format(cli: Callable[..., Result], runnable: Path) -> None:
    assert cli("graph", runnable, "--format", "dot").exit_code == 2


@pytest.mark.parametrize(
    "command",
    [
        (),
        ("run",),
        ("replay",),
        ("graph",),
        ("dlq",),
        ("dlq", "list"),
        ("dlq", "show"),
        ("dlq", "replay"),
    ],
)
def test_help_has_examples(cli: Callable[..., Result], command: tuple[str, ...]) -> None:
    result = cli(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage" in result.stdout
    assert "Examples" in result.stdout
    assert " ".join(("reagents", *command)) in result.stdout


# ---------------------------------------------------------------------------- processes


def reagents(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "reagents.cli", *(str(a) for a in args)]


@pytest.mark.integration
def test_module_and_console_script(runnable: Path) -> None:
    done = subprocess.run(reagents("run", runnable), capture_output=True, text=True, timeout=60)
    assert done.returncode == DEAD_LETTERS, done.stderr
    assert "ingested 6 · emitted 4 · dead letters 2" in done.stdout
    # the agent's failure is logged with its traceback (stderr, not only the dead letter)
    assert "WARNING reagents.pipelines.failures: agent shipper: event" in done.stderr
    assert 'in shipper\n    raise ValueError("cannot ship [poison|pill]")' in done.stderr
    script = Path(sys.executable).parent / ("reagents.exe" if os.name == "nt" else "reagents")
    if not script.exists():
        pytest.skip("the reagents console script is not installed next to the interpreter")
    helped = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0
    assert "replay" in helped.stdout
    failed = subprocess.run([script, "graph", "nope.py"], capture_output=True, text=True)
    assert failed.returncode == 2
    assert failed.stderr.strip().splitlines() == ["error: pipeline file 'nope.py' does not exist"]


def wait_for(predicate: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.integration
@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
def test_ctrl_c_drains_and_a_second_one_aborts(tmp_path: Path) -> None:
    quiet = write(tmp_path / "quiet.py", AGENTS_ONLY)
    with subprocess.Popen(
        reagents("run", quiet, "--forever"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stderr is not None
        assert "running pipeline" in proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "stopped (Ctrl-C)" in out

    write_events(tmp_path / "events.jsonl", count=1)
    stuck = write(
        tmp_path / "stuck.py",
        """\
        import asyncio
        from pathlib import Path
        from reagents.pipelines.pipeline import Pipeline
        from reagents.sources.file import FileSource

        HERE = Path(__file__).parent
        pipeline = Pipeline(sources=[FileSource(HERE / "events.jsonl")], dead_letters=HERE / "d")

        @pipeline.agent(subscription="type = order")
        async def slow(event):
            (HERE / "started").touch()
            await asyncio.sleep(60)
        """,
    )
    with subprocess.Popen(
        reagents("run", stuck), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stderr is not None
        assert "running pipeline" in proc.stderr.readline()
        assert "dead letters → " in proc.stderr.readline()
        wait_for((tmp_path / "started").exists)
        proc.send_signal(signal.SIGINT)
        assert "draining" in proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "aborted" in out
