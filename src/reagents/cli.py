"""The ``reagents`` command line: run, replay and inspect pipelines declared in Python.

This module is the presentation layer: it loads a pipeline file, runs the pipeline on
asyncio, and reports with rich. Errors a user can cause end in one red line and exit
code 2 (bad input) or 1 (failure while running), never a traceback.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import json
import logging
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Annotated, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.errors import ReagentsError
from reagents.pipelines.graph import pipeline_graph
from reagents.pipelines.pipeline import Pipeline, SourceFailedError
from reagents.sinks.file import JsonlDeadLetterLog, read_dead_letters
from reagents.sources.file import FileSource

__all__ = ["CliError", "app", "load_pipeline"]

USAGE = 2
RUNTIME = 1
ABORTED = 130
FACTORY_NAMES = ("build_pipeline", "pipeline")

P = ParamSpec("P")
R = TypeVar("R")

PIPELINE_HELP = (
    "The pipeline: FILE.py or FILE.py:NAME. Without NAME the file's single module-level "
    "Pipeline is used, else its build_pipeline() (or pipeline()) function is called."
)

app = typer.Typer(
    name="reagents",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)
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
app.add_typer(dlq_app, name="dlq")


class CliError(Exception):
    """A problem to report in one line; ``code`` is the process exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


# ---------------------------------------------------------------------------- consoles


def _console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a pipe or a file: don't wrap tables
    return console


def _friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one red line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            _fail(error.message, error.code)
        except SourceFailedError as error:
            _fail(str(error), RUNTIME)
        except ReagentsError as error:  # ConfigurationError, FilterSyntaxError, ...
            _fail(f"{type(error).__name__}: {error}", USAGE)

    return wrapper


def _fail(message: str, code: int) -> NoReturn:
    first, _, rest = message.partition("\n")
    console = _console(stderr=True)
    console.print(Text(f"error: {first}", style="bold red"))
    if rest:
        console.print(Text(rest), highlight=False)
    raise typer.Exit(code)


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log INFO messages of the library.")
    ] = False,
) -> None:
    """Run, replay and inspect **reagents** pipelines.

    Examples:

    * `reagents run examples/trading.py`
    * `reagents replay events.jsonl --pipeline examples/trading.py --speed 10`
    * `reagents dlq list dead_letters.jsonl`
    * `reagents graph examples/trading.py --format mermaid`
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


# ---------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class PipelineRef:
    """``FILE.py`` or ``FILE.py:NAME`` from the command line."""

    path: Path
    name: str | None

    @classmethod
    def parse(cls, text: str) -> PipelineRef:
        """Split off ``:NAME`` when it is a Python identifier (so ``C:\\x.py`` stays whole)."""
        head, sep, name = text.rpartition(":")
        if sep and head and name.isidentifier():
            return cls(Path(head), name)
        return cls(Path(text), None)


def load_pipeline(spec: str) -> Pipeline:
    """The pipeline named by ``FILE.py[:NAME]`` (see `PIPELINE_HELP` for the rule).

    Raises:
        CliError: the file is missing or has no (or several) pipelines, or its code
            failed while being loaded.
    """
    ref = PipelineRef.parse(spec)
    module = _load_module(ref.path)
    if ref.name is not None:
        if not hasattr(module, ref.name):
            raise CliError(f"{ref.path} has no attribute {ref.name!r}; {_found(module)}")
        return _as_pipeline(getattr(module, ref.name), ref.name, ref.path)
    pipelines: dict[int, str] = {}
    for name, value in vars(module).items():
        if isinstance(value, Pipeline):
            pipelines.setdefault(id(value), name)
    if len(pipelines) == 1:
        (name,) = pipelines.values()
        return _as_pipeline(getattr(module, name), name, ref.path)
    if len(pipelines) > 1:
        names = ", ".join(pipelines.values())
        first = next(iter(pipelines.values()))
        raise CliError(
            f"{ref.path} defines {len(pipelines)} pipelines ({names}); pick one with "
            f"{ref.path}:{first}"
        )
    factories = [n for n in FACTORY_NAMES if callable(getattr(module, n, None))]
    if len(factories) == 1:
        return _as_pipeline(getattr(module, factories[0]), factories[0], ref.path)
    if factories:
        raise CliError(
            f"{ref.path} defines both {' and '.join(factories)}(); pick one with "
            f"{ref.path}:{factories[0]}"
        )
    raise CliError(
        f"no pipeline in {ref.path}: define a module-level Pipeline or a build_pipeline() "
        f"function, or name one with {ref.path}:NAME; {_found(module)}"
    )


def _load_module(path: Path) -> ModuleType:
    if not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise CliError(f"pipeline file {str(path)!r} {what}")
    if path.suffix != ".py":
        raise CliError(f"pipeline file {str(path)!r} is not a Python file (.py)")
    module_name = "_reagents_pipeline_" + "".join(c if c.isalnum() else "_" for c in path.stem)
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise CliError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    sys.modules[module_name] = module
    try:
        with _user_code(path):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    finally:
        with suppress(ValueError):
            sys.path.remove(folder)
    return module


def _as_pipeline(value: object, name: str, path: Path) -> Pipeline:
    if isinstance(value, Pipeline):
        return value
    if not callable(value):
        raise CliError(f"{path}:{name} is a {type(value).__name__}, not a Pipeline or a function")
    if inspect.iscoroutinefunction(value):
        raise CliError(f"{path}:{name} is async; make it a plain function returning a Pipeline")
    try:
        inspect.signature(value).bind()
    except TypeError:
        raise CliError(f"{path}:{name}() needs arguments; the CLI calls it with none") from None
    except ValueError:
        pass  # no signature (a builtin): just call it
    with _user_code(path):
        result = value()
    if not isinstance(result, Pipeline):
        raise CliError(f"{path}:{name}() returned {type(result).__name__}, not a Pipeline")
    return result


@contextmanager
def _user_code(path: Path) -> Iterator[None]:
    """Report an error raised by the pipeline file at its line, in one line."""
    try:
        yield
    except (CliError, typer.Exit, KeyboardInterrupt):
        raise
    except SyntaxError as error:
        where = f"{error.filename or path}:{error.lineno}"
        raise CliError(f"{where}: SyntaxError: {error.msg}") from None
    except ReagentsError as error:
        where = _user_line(error.__traceback__, path)
        raise CliError(f"{where}: {type(error).__name__}: {error}") from None
    except Exception as error:
        where = _user_line(error.__traceback__, path)
        raise CliError(f"{where}: {type(error).__name__}: {error}", RUNTIME) from None


def _user_line(tb: TracebackType | None, path: Path) -> str:
    resolved = str(path.resolve())
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if str(Path(frame.f_code.co_filename).resolve()) == resolved:
            line = lineno
    return f"{path}:{line}" if line is not None else str(path)


def _found(module: ModuleType) -> str:
    names = [
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    ]
    if not names:
        return "the file defines nothing public"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"found: {shown}"


# ---------------------------------------------------------------------------- running


class Outcome(StrEnum):
    """How a run ended."""

    FINISHED = "finished"
    STOPPED = "stopped (Ctrl-C), after draining"
    ABORTED = "aborted (second Ctrl-C)"


class _Monitor:
    """A live progress display: bytes read of each file source, events and events/s."""

    def __init__(self, pipeline: Pipeline, console: Console, enabled: bool) -> None:
        self._pipeline = pipeline
        self._started = time.perf_counter()
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=console,
            disable=not enabled,
        )
        self._files: list[tuple[TaskID, FileSource]] = [
            (self._progress.add_task(s.name, total=max(s.total_bytes, 1), info=""), s)
            for s in pipeline.sources
            if isinstance(s, FileSource)
        ]
        self._events = self._progress.add_task("events", total=None, info="")

    def __enter__(self) -> _Monitor:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.update()
        self._progress.stop()

    def note(self, message: str, style: str = "yellow") -> None:
        """Print a line above the live display."""
        self._progress.console.print(Text(message, style=style))

    def update(self) -> None:
        """Refresh the numbers from the pipeline and its file sources."""
        for task, source in self._files:
            try:
                total = max(source.total_bytes, 1)
            except OSError:  # the file went away: keep the last numbers
                continue
            info = f"{_size(source.position)} / {_size(total)}"
            self._progress.update(task, total=total, completed=source.position, info=info)
        counters = self._pipeline.counters
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        info = (
            f"{counters.ingested:,} in · {counters.ingested / elapsed:,.0f}/s · "
            f"{counters.emitted:,} emitted · {counters.dead_letters:,} dead letters"
        )
        self._progress.update(self._events, info=info)


def _size(n: int) -> str:
    if n < 1024:
        return f"{n:,} B"
    value = n / 1024
    for unit in ("kB", "MB"):
        if value < 1024:
            return f"{value:,.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} GB"


async def _execute(pipeline: Pipeline, forever: bool, monitor: _Monitor) -> Outcome:
    loop = asyncio.get_running_loop()
    task = loop.create_task(pipeline.run(forever=forever))
    interrupts = 0

    def on_interrupt() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            monitor.note("stopping: draining in-flight work (Ctrl-C again to abort)")
            pipeline.request_stop()
        else:
            task.cancel()

    with _sigint(loop, on_interrupt), monitor:
        monitor.note(f"running pipeline {pipeline.name!r} (Ctrl-C to stop)", style="dim")
        while not task.done():
            await asyncio.wait({task}, timeout=0.1)
            monitor.update()
    if task.cancelled():
        return Outcome.ABORTED
    task.result()  # re-raise SourceFailedError and friends
    return Outcome.STOPPED if interrupts else Outcome.FINISHED


@contextmanager
def _sigint(loop: asyncio.AbstractEventLoop, handler: Callable[[], None]) -> Iterator[None]:
    """Route Ctrl-C to ``handler`` while running (and restore the previous handler)."""
    try:
        loop.add_signal_handler(signal.SIGINT, handler)
    except (NotImplementedError, RuntimeError, ValueError):  # Windows, or not main thread
        try:
            previous = signal.signal(signal.SIGINT, lambda *_: loop.call_soon_threadsafe(handler))
        except ValueError:  # not the main thread: leave Ctrl-C alone
            yield
            return
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _run_and_report(pipeline: Pipeline, *, forever: bool, progress: bool | None) -> None:
    out, err = _console(), _console(stderr=True)
    enabled = err.is_terminal if progress is None else progress
    if not pipeline.sources and not forever:
        err.print(
            Text(
                f"pipeline {pipeline.name!r} has no sources: it ends at once "
                "(use --forever to keep it running for published events)",
                style="yellow",
            )
        )
    started = time.perf_counter()
    outcome = asyncio.run(_execute(pipeline, forever, _Monitor(pipeline, err, enabled)))
    _summary(out, pipeline, outcome, time.perf_counter() - started)
    if outcome is Outcome.ABORTED:
        raise typer.Exit(ABORTED)


def _summary(console: Console, pipeline: Pipeline, outcome: Outcome, seconds: float) -> None:
    counters = pipeline.counters
    style = "green" if outcome is Outcome.FINISHED else "yellow"
    console.print(Text(f"pipeline {pipeline.name!r} {outcome} in {seconds:.2f}s", style=style))
    where = ""
    sink = pipeline.dead_letter_sink
    if counters.dead_letters and isinstance(sink, JsonlDeadLetterLog):
        where = f" → {sink.path}"
    console.print(
        Text(
            f"ingested {counters.ingested:,} · emitted {counters.emitted:,} · "
            f"dead letters {counters.dead_letters:,}{where}"
        )
    )
    head, *rows = pipeline.stats().rows()
    if rows:
        table = Table(*head[:1], title="agents and sinks", title_justify="left")
        for column in head[1:]:
            table.add_column(column, justify="right")
        for row in rows:
            table.add_row(*(Text(cell) for cell in row))
        console.print(table)


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"--since: {text!r} is not an ISO-8601 time (e.g. 2024-05-01T12:00:00Z or "
            "2024-05-01; a time without offset is UTC)"
        ) from None


def _replay(
    log: Path,
    pipeline: Pipeline,
    scratch: Path,
    *,
    since: datetime | None = None,
    speed: float | None = None,
    progress: bool | None = None,
) -> None:
    """Run ``pipeline`` with ``log`` added as source ``replay``, from its first line."""
    try:
        source = FileSource(
            log,
            name="replay",
            start="beginning",
            since=since,
            speed=speed,
            checkpoint_path=scratch / "replay.checkpoint",  # never the log's own
        )
    except (FileNotFoundError, ValueError) as error:
        raise CliError(str(error)) from None
    others = [s.name for s in pipeline.sources]
    for name in others:
        pipeline.remove_source(name)
    pipeline.add_source(source)
    if others:
        _console(stderr=True).print(
            Text(
                f"replaying instead of the pipeline's own sources: {', '.join(others)}",
                style="yellow",
            )
        )
    _run_and_report(pipeline, forever=False, progress=progress)


# ---------------------------------------------------------------------------- commands

PipelineArg = Annotated[str, typer.Argument(metavar="FILE.py[:NAME]", help=PIPELINE_HELP)]
PipelineOpt = Annotated[
    str, typer.Option("--pipeline", "-p", metavar="FILE.py[:NAME]", help=PIPELINE_HELP)
]
ProgressOpt = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Show live progress (default: when a terminal)."),
]


@app.command()
@_friendly
def run(
    pipeline: PipelineArg,
    forever: Annotated[
        bool,
        typer.Option(
            "--forever", help="Keep running after the sources end (for published events)."
        ),
    ] = False,
    progress: ProgressOpt = None,
) -> None:
    """Run a pipeline declared in a Python file, then print a summary.

    The pipeline runs until its sources are exhausted and all work has drained (or,
    with `--forever`, until Ctrl-C). Ctrl-C stops reading and drains in-flight work;
    a second Ctrl-C aborts at once (unfinished records stay unacknowledged).

    Examples:

    * `reagents run examples/trading.py`
    * `reagents run app.py:build_pipeline --forever`
    """
    _run_and_report(load_pipeline(pipeline), forever=forever, progress=progress)


@app.command()
@_friendly
def replay(
    log: Annotated[Path, typer.Argument(metavar="LOG.jsonl", help="Event or dead-letter log.")],
    pipeline: PipelineOpt,
    speed: Annotated[
        float | None,
        typer.Option(help="Replay at the recorded pace times SPEED (default: at full speed)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="ISO-TIME", help="Skip events older than this (no offset = UTC)."),
    ] = None,
    progress: ProgressOpt = None,
) -> None:
    """Replay a JSONL log through a pipeline, from its first line.

    The log is added to the pipeline as source `replay`; its checkpoint file is neither
    read nor written. A dead-letter log replays too: its events (or raw bytes, decoded
    again) go through the pipeline.

    Examples:

    * `reagents replay events.jsonl --pipeline examples/trading.py`
    * `reagents replay events.jsonl -p app.py:pipeline --speed 10 --since 2024-05-01T12:00Z`
    """
    when = _parse_since(since)
    if not log.is_file():
        raise CliError(f"log {str(log)!r} does not exist")
    loaded = load_pipeline(pipeline)
    with tempfile.TemporaryDirectory(prefix="reagents-replay-") as scratch:
        _replay(log, loaded, Path(scratch), since=when, speed=speed, progress=progress)


class GraphFormat(StrEnum):
    """Output formats of ``reagents graph``."""

    TEXT = "text"
    MERMAID = "mermaid"
    JSON = "json"


@app.command()
@_friendly
def graph(
    pipeline: PipelineArg,
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text, mermaid or json.")
    ] = GraphFormat.TEXT,
) -> None:
    """Show a pipeline's graph: sources, bus, subscriptions, agents, sinks, dead letters.

    Examples:

    * `reagents graph examples/trading.py`
    * `reagents graph examples/trading.py --format mermaid > trading.mmd`
    """
    drawn = pipeline_graph(load_pipeline(pipeline))
    if format is GraphFormat.MERMAID:
        typer.echo(drawn.to_mermaid())
    elif format is GraphFormat.JSON:
        typer.echo(json.dumps(drawn.to_dict(), indent=2))
    else:
        typer.echo(drawn.to_text())


# ---------------------------------------------------------------------------- dlq

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
@_friendly
def dlq_list(file: DlqArg, stage: StageOpt = None, agent: AgentOpt = None) -> None:
    """List the dead letters of FILE in a table (ids shortened; `show` takes any prefix).

    Examples:

    * `reagents dlq list dead_letters.jsonl`
    * `reagents dlq list dead_letters.jsonl --stage agent --agent trader`
    """
    letters = _letters(file, stage, agent)
    console = _console()
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
@_friendly
def dlq_show(
    file: DlqArg,
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="A dead-letter id or prefix.")],
) -> None:
    """Print one dead letter as JSON (an unambiguous id prefix is enough).

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
    if letter.raw is not None:
        text = letter.raw.decode("utf-8", errors="replace")
        _console(stderr=True).print(Text(f"raw bytes as text: {text}", style="dim"))


@dlq_app.command("replay")
@_friendly
def dlq_replay(
    file: DlqArg,
    pipeline: PipelineOpt,
    stage: StageOpt = None,
    agent: AgentOpt = None,
    progress: ProgressOpt = None,
) -> None:
    """Replay dead letters of FILE through a pipeline (raw bytes are decoded again).

    Each matching record's event goes onto the pipeline's bus with `retry_count` reset.
    FILE is left as it is; new failures go to the pipeline's own dead-letter log.

    Examples:

    * `reagents dlq replay dead_letters.jsonl --pipeline examples/trading.py`
    * `reagents dlq replay dead_letters.jsonl -p app.py --stage agent --agent trader`
    """
    letters = _letters(file, stage, agent)
    if not letters:
        _console(stderr=True).print(
            Text("no dead letters match: nothing to replay", style="yellow")
        )
        return
    loaded = load_pipeline(pipeline)
    with tempfile.TemporaryDirectory(prefix="reagents-dlq-") as scratch:
        selected = Path(scratch) / file.name
        selected.write_bytes(b"".join(letter.to_json() + b"\n" for letter in letters))
        _replay(selected, loaded, Path(scratch), progress=progress)


if __name__ == "__main__":
    app(prog_name="reagents")
