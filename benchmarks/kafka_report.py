"""What `kafka_bench.py` measured: one `Run` per consumer process, its checks, the tables.

A run is exact when its consumer saw the N records, called its handler for exactly
the expected records (N/4 or N) and its group's committed offsets add up to N over
the partitions (every record committed once the run ended, none beyond). An inexact
run is never silently averaged in: its row is marked and the problem printed in red.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table
from rich.text import Text

CEILING = "orjson"
LABELS = {
    "orjson": "raw orjson (ceiling)",
    "json": "raw stdlib json",
    "reagents": "reagents",
    "quix": "Quix Streams",
}
WORKLOAD_TITLES = {"match25": "25% match", "all": "all match"}


@dataclass
class Run:
    """One consumer process's figures (from its JSON line) and what was checked."""

    kind: str
    workload: str
    round: int
    seen: int = 0
    handled: int = 0
    seconds: float = 0.0
    cpu: float = 0.0
    rss_kib: int = 0
    committed: int | None = None
    dead_letters: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Records per second from the first record to the last one handled."""
        return self.seen / self.seconds if self.seconds > 0 else 0.0

    def check(self, count: int, expected: int) -> None:
        """Add a problem for every way this run was not exact."""
        if self.seen != count:
            self.problems.append(f"saw {self.seen:,} records, not {count:,}")
        if self.handled != expected:
            self.problems.append(f"handled {self.handled:,}, expected {expected:,}")
        if self.committed is not None and self.committed != count:
            self.problems.append(f"committed offsets add up to {self.committed:,}, not {count:,}")
        if self.dead_letters:
            self.problems.append(f"{self.dead_letters:,} dead letters")


def failed(kind: str, workload: str, round_: int, why: str) -> Run:
    """A run that produced no figures (the process failed, timed out, printed no JSON)."""
    return Run(kind, workload, round_, problems=[why])


def spread(values: list[float], fmt: str) -> str:
    """``min/median/max`` of ``values`` (``-`` when there are none)."""
    if not values:
        return "-"
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}}/{mid:{fmt}}/{high:{fmt}}"


def ratios(runs: list[Run], kind: str, workload: str) -> list[float]:
    """``kind``'s rate over the ceiling's rate of the same round, for each round."""
    ceilings = {r.round: r.rate for r in runs if r.kind == CEILING and r.workload == workload}
    return [
        r.rate / ceilings[r.round]
        for r in runs
        if r.kind == kind and r.workload == workload and r.rate and ceilings.get(r.round)
    ]


def table(runs: list[Run], workload: str, kinds: list[str], count: int) -> Table:
    """One workload's table: rates, ratios to the same round's ceiling, CPU, peak RSS."""
    rounds = len({r.round for r in runs})
    title = f"{WORKLOAD_TITLES[workload]}: {count:,} records, rounds: {rounds}"
    grid = Table(title=title, title_justify="left")
    grid.add_column("consumer")
    for header in ("k events/s\nmin/med/max", "x ceiling\nmin/med/max", "CPU µs/\nevent med"):
        grid.add_column(header, justify="right")
    grid.add_column("peak RSS\nMiB max", justify="right")
    for kind in kinds:
        mine = [r for r in runs if r.kind == kind and r.workload == workload]
        good = [r for r in mine if r.rate]
        bad = any(r.problems for r in mine)
        label = Text(("✗ " if bad else "") + LABELS[kind], style="bold red" if bad else "")
        grid.add_row(
            label,
            spread([r.rate / 1e3 for r in good], ".0f"),
            spread(ratios(runs, kind, workload), ".2f"),
            f"{statistics.median([r.cpu / r.seen * 1e6 for r in good]):.1f}" if good else "-",
            f"{max(r.rss_kib for r in good) / 1024:.0f}" if good else "-",
        )
    return grid


def report(
    console: Console, runs: list[Run], workloads: list[str], kinds: list[str], count: int
) -> bool:
    """Print a table per workload and every problem; True when every run was exact."""
    for workload in workloads:
        console.print(table(runs, workload, kinds, count))
    problems = [r for r in runs if r.problems]
    for run in problems:
        where = f"ERROR round {run.round}, {run.workload}, {LABELS[run.kind]}: "
        console.print(Text(where + "; ".join(run.problems), style="bold red"))
    if not problems:
        console.print("Every run exact: N seen, the expected handler calls, N committed.")
    return not problems
