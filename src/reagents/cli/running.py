"""Running a pipeline on asyncio from the command line: Ctrl-C handling, progress, summary."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, TypedDict

import typer
from rich.text import Text

from reagents.cli.console import ABORTED, DEAD_LETTERS, CliError, fail, rich_console
from reagents.cli.reporting import Monitor, Outcome, summary
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Watermarks
from reagents.sources.base import Source
from reagents.sources.file import FileSource

__all__ = [
    "FailOnDeadLettersOpt",
    "ProgressOpt",
    "ReplaySettings",
    "replace_sources",
    "replay_log",
    "replay_settings",
    "run_and_report",
]

ProgressOpt = Annotated[
    bool | None,
    typer.Option("--progress/--no-progress", help="Show live progress (default: when a terminal)."),
]
FailOnDeadLettersOpt = Annotated[
    bool,
    typer.Option(
        "--fail-on-dead-letters/--no-fail-on-dead-letters",
        help=f"Exit with code {DEAD_LETTERS} if the run wrote dead letters (so CI notices).",
    ),
]


def run_and_report(
    pipeline: Pipeline, *, forever: bool, progress: bool | None, fail_on_dead_letters: bool = True
) -> None:
    """Run ``pipeline`` to the end (or Ctrl-C) with live progress, then print a summary.

    Raises:
        typer.Exit: with code 130 when a second Ctrl-C aborted the run, or 3 when it
            wrote dead letters and ``fail_on_dead_letters``.
    """
    out, err = rich_console(), rich_console(stderr=True)
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
    outcome = asyncio.run(_execute(pipeline, forever, Monitor(pipeline, err, enabled)))
    summary(out, pipeline, outcome, time.perf_counter() - started)
    if outcome is Outcome.ABORTED:
        raise typer.Exit(ABORTED)
    count = pipeline.counters.dead_letters
    if count and fail_on_dead_letters:
        fail(
            f"{count:,} dead letter(s) written → {pipeline.dead_letter_sink.describe()} "
            f"(exit code {DEAD_LETTERS}; --no-fail-on-dead-letters to exit 0)",
            DEAD_LETTERS,
        )


async def _execute(pipeline: Pipeline, forever: bool, monitor: Monitor) -> Outcome:
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
        monitor.note(f"dead letters → {pipeline.dead_letter_sink.describe()}", style="dim")
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


class ReplaySettings(TypedDict, total=False):
    """What a replay source takes over from the sources it replaces."""

    batch_size: int
    window: Watermarks


def replay_settings(replaced: list[Source]) -> ReplaySettings:
    """The reading settings of ``replaced`` that a replay source must keep to give the
    same result: the smallest batch size and the narrowest window among them.

    Why: the batch size decides how records interleave between agents (the trading
    example hands over one record at a time so that its trader and risk agent see
    windows and alerts in file order), and the window how much may be in flight.
    """
    settings: ReplaySettings = {}
    sizes = [getattr(r, "batch_size", None) for r in replaced]
    if ints := [size for size in sizes if isinstance(size, int)]:
        settings["batch_size"] = min(ints)
    found = [getattr(r, "window", None) for r in replaced]
    windows = [window for window in found if isinstance(window, Watermarks)]
    if windows:
        settings["window"] = min(windows, key=lambda w: (w.high, w.low))
    return settings


def replace_sources(pipeline: Pipeline, make: Callable[[ReplaySettings], Source]) -> None:
    """Swap ``pipeline``'s own sources for ``make(their settings)`` and say so on stderr."""
    replaced = list(pipeline.sources)
    settings = replay_settings(replaced)
    source = make(settings)
    for old in replaced:
        pipeline.remove_source(old.name)
    pipeline.add_source(source)
    if replaced:
        names = ", ".join(old.name for old in replaced)
        err = rich_console(stderr=True)
        err.print(Text(f"replaying instead of the pipeline's own sources: {names}", style="yellow"))
        kept = [f"batch size {settings['batch_size']}"] if "batch_size" in settings else []
        if "window" in settings:
            kept.append(f"window {settings['window'].high}/{settings['window'].low}")
        if kept:
            err.print(Text(f"  with their {' and '.join(kept)}", style="yellow"))


def replay_log(
    log: Path,
    pipeline: Pipeline,
    scratch: Path,
    *,
    since: datetime | None = None,
    speed: float | None = None,
    progress: bool | None = None,
    fail_on_dead_letters: bool = True,
) -> None:
    """Run ``pipeline`` with ``log`` as source ``replay`` instead of its own sources.

    The log is read from its first line with the replaced sources' batch size and
    window (`replay_settings`), so a replay of what a run read gives the run's result.
    """

    def make(settings: ReplaySettings) -> Source:
        try:
            return FileSource(
                log,
                name="replay",
                start="beginning",
                since=since,
                speed=speed,
                checkpoint_path=scratch / "replay.checkpoint",  # never the log's own
                **settings,
            )
        except (FileNotFoundError, ValueError) as error:
            raise CliError(str(error)) from None

    replace_sources(pipeline, make)
    run_and_report(
        pipeline, forever=False, progress=progress, fail_on_dead_letters=fail_on_dead_letters
    )
