"""``reagents dlq``: list, show and replay the records of a dead-letter log (JSONL)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from reagents.cli.console import CliError, friendly, rich_console
from reagents.cli.loading import PipelineOpt, load_pipeline
from reagents.cli.running import FailOnDeadLettersOpt, ProgressOpt, replay_log
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.sinks.file import read_dead_letters

__all__ = ["dlq_app", "dlq_list", "dlq_replay", "dlq_show"]

dlq_app = typer.Typer(
    help=(
        "List, show and replay the records of a dead-letter log (JSONL).\n\n"
        "Examples:\n\n"
        "* `reagents dlq list dead_letters.jsonl --stage agent`\n"
        "* `reagents dlq show dead_letters.jsonl 3f2a9c1e`\n"
        "* `reagents dlq replay dead_letters.jsonl --pipeline app.py --agent trader`"
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)

DlqArg = Annotated[Path, typer.Argument(metavar="FILE", help="A dead-letter log (JSONL).")]
StageOpt = Annotated[
    FailureStage | None, typer.Option(help="Only dead letters of this stage.", show_choices=True)
]
AgentOpt = Annotated[str | None, typer.Option(help="Only dead letters of this agent id.")]


def _letters(
    path: Path, stage: FailureStage | None = None, agent: str | None = None
) -> list[DeadLetter]:
    if not path.is_file():
        raise CliError(f"dead-letter log {str(path)!r} does not exist")
    return [
        letter
        for letter in read_dead_letters(path)
        if (stage is None or letter.stage == stage) and (agent is None or letter.agent_id == agent)
    ]


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dlq_app.command("list")
@friendly
def dlq_list(file: DlqArg, stage: StageOpt = None, agent: AgentOpt = None) -> None:
    """List the dead letters of FILE in a table (ids shortened; `show` takes any prefix).

    Examples:

    * `reagents dlq list dead_letters.jsonl`
    * `reagents dlq list dead_letters.jsonl --stage agent --agent trader`
    """
    letters = _letters(file, stage, agent)
    console = rich_console()
    if not letters:
        console.print(Text(f"no dead letters in {file}", style="green"))
        return
    table = Table(title=f"{len(letters)} dead letters in {file}", title_justify="left")
    for column in ("id", "stage", "agent", "error", "message", "attempts", "last failure"):
        table.add_column(column, justify="right" if column == "attempts" else "left")
    for letter in letters:
        table.add_row(
            *(
                Text(cell)
                for cell in (
                    letter.dead_letter_id[:8],
                    letter.stage.value,
                    letter.agent_id or "-",
                    letter.error_type,
                    _short(letter.message),
                    str(letter.attempts),
                    letter.last_failure_at.isoformat(timespec="seconds"),
                )
            )
        )
    console.print(table)


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
    letters = _letters(file)
    exact = [x for x in letters if x.dead_letter_id == letter_id]
    found = exact or [x for x in letters if x.dead_letter_id.startswith(letter_id)]
    if not found:
        raise CliError(f"no dead letter with id {letter_id!r} in {file}")
    if len({x.dead_letter_id for x in found}) > 1:
        ids = ", ".join(x.dead_letter_id for x in found[:5])
        raise CliError(f"id prefix {letter_id!r} matches {len(found)} dead letters: {ids}")
    letter = found[-1]
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
    file: DlqArg,
    pipeline: PipelineOpt,
    stage: StageOpt = None,
    agent: AgentOpt = None,
    progress: ProgressOpt = None,
    fail_on_dead_letters: FailOnDeadLettersOpt = True,
) -> None:
    """Replay dead letters of FILE through a pipeline (raw bytes are decoded again).

    Each matching record's event goes onto the pipeline's bus with `retry_count` reset.
    FILE is left as it is; new failures go to the pipeline's own dead letters, and
    the command then exits with code 3 (unless `--no-fail-on-dead-letters`).

    Examples:

    * `reagents dlq replay dead_letters.jsonl --pipeline examples/trading.py`
    * `reagents dlq replay dead_letters.jsonl -p app.py --stage agent --agent trader`
    """
    letters = _letters(file, stage, agent)
    if not letters:
        rich_console(stderr=True).print(
            Text("no dead letters match: nothing to replay", style="yellow")
        )
        return
    loaded = load_pipeline(pipeline)
    with tempfile.TemporaryDirectory(prefix="reagents-dlq-") as scratch:
        selected = Path(scratch) / file.name
        selected.write_bytes(b"".join(letter.to_json() + b"\n" for letter in letters))
        replay_log(
            selected,
            loaded,
            Path(scratch),
            progress=progress,
            fail_on_dead_letters=fail_on_dead_letters,
        )
