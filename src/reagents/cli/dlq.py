"""``reagents dlq``: list, show and replay dead letters (a JSONL log or a Kafka topic).

Reading (and refusing what is not a dead-letter log) and the resolved marks live in
`dlq_logs`, the table in `dlq_table`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from reagents.cli.console import CliError, friendly, rich_console
from reagents.cli.dlq_logs import (
    Letters,
    mark_resolved,
    read_log,
    read_topic,
    resolved_ids,
    resolved_path,
)
from reagents.cli.dlq_table import letters_table
from reagents.cli.kafka import BootstrapOpt
from reagents.cli.loading import PipelineOpt, load_pipeline
from reagents.cli.running import FailOnDeadLettersOpt, ProgressOpt, replay_log
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.kafka.config import KafkaConfig
from reagents.pipelines.pipeline import Pipeline

__all__ = ["dlq_app", "dlq_list", "dlq_replay", "dlq_show"]

dlq_app = typer.Typer(
    help=(
        "List, show and replay dead letters: a JSONL log, or a Kafka topic (--kafka).\n\n"
        "Examples:\n\n"
        "* `reagents dlq list dead_letters.jsonl --stage agent`\n"
        "* `reagents dlq show dead_letters.jsonl 3f2a9c1e`\n"
        "* `reagents dlq replay dead_letters.jsonl --pipeline app.py --agent trader`"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

FileArg = Annotated[
    Path | None,
    typer.Argument(metavar="[FILE]", help="A dead-letter log (JSONL); or give --kafka."),
]
DlqArg = Annotated[Path, typer.Argument(metavar="FILE", help="A dead-letter log (JSONL).")]
KafkaOpt = Annotated[
    str | None,
    typer.Option("--kafka", metavar="TOPIC", help="Read this dead-letter topic instead of a FILE."),
]
IdleOpt = Annotated[
    float, typer.Option(help="With --kafka: the topic is read once idle this many seconds.")
]
StageOpt = Annotated[
    FailureStage | None, typer.Option(help="Only dead letters of this stage.", show_choices=True)
]
AgentOpt = Annotated[str | None, typer.Option(help="Only dead letters of this agent id.")]
AllOpt = Annotated[
    bool, typer.Option("--all", help="Include the letters marked resolved (dlq replay --resolve).")
]


def _read(file: Path | None, kafka: str | None, bootstrap: str | None, idle: float) -> Letters:
    """The letters of FILE or of the topic --kafka (exactly one), a note if some were skipped."""
    if (file is None) == (kafka is None):
        raise CliError("give a dead-letter FILE or --kafka TOPIC (exactly one)")
    if kafka is not None:
        if idle <= 0:
            raise CliError(f"--idle must be > 0 seconds, got {idle}")
        read = read_topic(kafka, KafkaConfig.of(None, bootstrap), idle)
    else:
        assert file is not None
        read = read_log(file)
    if read.skipped:
        rich_console(stderr=True).print(
            Text(
                f"skipped {read.skipped:,} records that are not dead letters "
                f"(first: {_short(read.first_problem or '', 100)})",
                style="yellow",
            )
        )
    return read


def _select(
    letters: list[DeadLetter], stage: FailureStage | None, agent: str | None
) -> list[DeadLetter]:
    return [
        letter
        for letter in letters
        if (stage is None or letter.stage == stage) and (agent is None or letter.agent_id == agent)
    ]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dlq_app.command("list")
@friendly
def dlq_list(
    file: FileArg = None,
    kafka: KafkaOpt = None,
    bootstrap: BootstrapOpt = None,
    idle: IdleOpt = 1.0,
    stage: StageOpt = None,
    agent: AgentOpt = None,
    show_all: AllOpt = False,
) -> None:
    """List the dead letters of FILE (or of a Kafka topic) in a table.

    Ids are shortened (`show` takes any prefix); the origin is the input's place
    (`file:line`, `topic[partition]@offset`). Letters marked resolved by
    `dlq replay --resolve` are hidden unless `--all`.

    Examples:

    * `reagents dlq list dead_letters.jsonl`
    * `reagents dlq list dead_letters.jsonl --stage agent --agent trader`
    * `reagents dlq list --kafka trading_dead_letters --bootstrap 127.0.0.1:9092`
    """
    read = _read(file, kafka, bootstrap, idle)
    resolved = resolved_ids(file) if file is not None else set()
    letters = _select(read.letters, stage, agent)
    shown = letters if show_all else [x for x in letters if x.dead_letter_id not in resolved]
    hidden = len(letters) - len(shown)
    note = f" ({hidden:,} resolved hidden: --all shows them)" if hidden else ""
    console = rich_console()
    if not shown:
        console.print(Text(f"no dead letters in {read.where}{note}", style="green"))
        return
    title = f"{len(shown):,} dead letters in {read.where}{note}"
    if show_all and resolved:
        title += f" ({sum(x.dead_letter_id in resolved for x in shown):,} resolved, dimmed)"
    console.print(letters_table(shown, title, console.width, resolved))


@dlq_app.command("show")
@friendly
def dlq_show(
    file: DlqArg,
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="A dead-letter id or prefix.")],
) -> None:
    """Print one dead letter as JSON (an unambiguous id prefix is enough).

    The JSON goes to stdout; its traceback (where user code raised) and raw bytes are
    also printed readably on stderr.

    Examples:

    * `reagents dlq show dead_letters.jsonl 3f2a9c1e`
    """
    letters = read_log(file).letters
    exact = [x for x in letters if x.dead_letter_id == letter_id]
    found = exact or [x for x in letters if x.dead_letter_id.startswith(letter_id)]
    if not found:
        raise CliError(f"no dead letter with id {letter_id!r} in {file}")
    if len({x.dead_letter_id for x in found}) > 1:
        ids = ", ".join(x.dead_letter_id for x in found[:5])
        raise CliError(f"id prefix {letter_id!r} matches {len(found)} dead letters: {ids}")
    letter = found[-1]
    if letter.dead_letter_id in resolved_ids(file):
        rich_console(stderr=True).print(Text("resolved (replayed with --resolve)", style="dim"))
    typer.echo(json.dumps(json.loads(letter.to_json()), indent=2, ensure_ascii=False))
    err = rich_console(stderr=True)
    if letter.traceback is not None:
        err.print(Text("traceback of the last failure:", style="dim"))
        err.print(Text(letter.traceback.rstrip()), highlight=False)
    if letter.raw is not None:
        text = letter.raw.decode("utf-8", errors="replace")
        err.print(Text(f"raw bytes as text: {text}", style="dim"))


@dlq_app.command("replay")
@friendly
def dlq_replay(
    pipeline: PipelineOpt,
    file: FileArg = None,
    kafka: KafkaOpt = None,
    bootstrap: BootstrapOpt = None,
    idle: IdleOpt = 1.0,
    stage: StageOpt = None,
    agent: AgentOpt = None,
    show_all: AllOpt = False,
    resolve: Annotated[
        bool,
        typer.Option(
            "--resolve",
            help="After a replay in which nothing failed again, mark the letters resolved "
            "(in FILE.resolved), so `list` and `replay` skip them.",
        ),
    ] = False,
    progress: ProgressOpt = None,
    fail_on_dead_letters: FailOnDeadLettersOpt = True,
) -> None:
    """Replay dead letters of FILE (or a Kafka topic) through a pipeline.

    Each matching record's event goes onto the pipeline's bus with `retry_count` reset
    (raw bytes are decoded again). FILE is left as it is; new failures go to the
    pipeline's own dead letters, and the command then exits with code 3 (unless
    `--no-fail-on-dead-letters`). With `--resolve`, a replay that read every letter
    and wrote no new dead letter marks them resolved afterwards: a crash in between
    leaves them unresolved, so they are replayed again (at-least-once), never lost.

    Examples:

    * `reagents dlq replay dead_letters.jsonl --pipeline examples/trading.py`
    * `reagents dlq replay dead_letters.jsonl -p app.py --stage agent --resolve`
    * `reagents dlq replay --kafka app_dead_letters -p app.py --agent trader`
    """
    if resolve and file is None:
        raise CliError("--resolve marks the letters of a FILE; a Kafka topic cannot be marked")
    read = _read(file, kafka, bootstrap, idle)
    resolved = resolved_ids(file) if file is not None and not show_all else set()
    letters = [x for x in _select(read.letters, stage, agent) if x.dead_letter_id not in resolved]
    if not letters:
        rich_console(stderr=True).print(
            Text("no dead letters match: nothing to replay", style="yellow")
        )
        return
    loaded = load_pipeline(pipeline)
    with tempfile.TemporaryDirectory(prefix="reagents-dlq-") as scratch:
        selected = Path(scratch) / "dead_letters.jsonl"
        selected.write_bytes(b"".join(letter.to_json() + b"\n" for letter in letters))
        try:
            replay_log(
                selected,
                loaded,
                Path(scratch),
                progress=progress,
                fail_on_dead_letters=fail_on_dead_letters,
            )
        except BaseException:  # exit 3 or 130, a failed source: mark nothing
            if resolve:
                _unresolved(loaded, len(letters), finished=False)
            raise
    if resolve and file is not None and not _unresolved(loaded, len(letters)):
        marked = mark_resolved(file, (x.dead_letter_id for x in letters))
        rich_console(stderr=True).print(
            Text(f"{marked:,} dead letters marked resolved in {resolved_path(file)}", style="green")
        )


def _unresolved(pipeline: Pipeline, expected: int, finished: bool = True) -> bool:
    """Say why the replayed letters stay unresolved, if they do: some failed again, or
    the replay did not read them all (stopped, aborted, failed)."""
    counters = pipeline.counters
    if counters.dead_letters:
        why = f"{counters.dead_letters:,} failed again"
    elif counters.ingested < expected or not finished:
        why = f"the replay did not finish ({counters.ingested:,} of {expected:,} read)"
    else:
        return False
    rich_console(stderr=True).print(Text(f"nothing marked resolved: {why}", style="yellow"))
    return True
