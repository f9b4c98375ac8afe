"""What a run shows: a live progress display while it runs and a summary when it ends."""

from __future__ import annotations

import time
from enum import StrEnum

from rich import box
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.snapshots import NAME_WIDTH as _NAME_WIDTH
from reagents.sources.file import FileSource

__all__ = ["Monitor", "Outcome", "summary"]


class Outcome(StrEnum):
    """How a run ended."""

    FINISHED = "finished"
    STOPPED = "stopped (Ctrl-C), after draining"
    ABORTED = "aborted (second Ctrl-C)"


class Monitor:
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

    def __enter__(self) -> Monitor:
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


def summary(console: Console, pipeline: Pipeline, outcome: Outcome, seconds: float) -> None:
    """Print how the run ended, its counters and the per-agent/sink statistics table."""
    counters = pipeline.counters
    style = "green" if outcome is Outcome.FINISHED else "yellow"
    console.print(Text(f"pipeline {pipeline.name!r} {outcome} in {seconds:.2f}s", style=style))
    where = f" → {pipeline.dead_letter_sink.describe()}" if counters.dead_letters else ""
    console.print(
        Text(
            f"ingested {counters.ingested:,} · emitted {counters.emitted:,} · "
            f"dead letters {counters.dead_letters:,}{where}"
        )
    )
    stats = pipeline.stats()
    for title, rows in (
        ("agents and sinks", stats.rows()),
        (_LATENCY_TITLE, stats.latency_rows()),
        ("model usage", stats.model_rows()),
    ):
        if len(rows) > 1:
            console.print(_table(title, rows))


_LATENCY_TITLE = "latency, whole run: routed → handled = waiting + handling (±0.8%)"


def _table(title: str, rows: list[list[str]]) -> Table:
    """A borderless table: 2 spaces between columns, so the stats fit 80 columns."""
    head, *body = rows
    name = Column(head[0], overflow="ellipsis", no_wrap=True, min_width=_NAME_WIDTH)
    table = Table(
        name,
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for column in head[1:]:
        table.add_column(column, justify="right", no_wrap=True)
    for row in body:
        table.add_row(*(Text(cell) for cell in row))
    return table
