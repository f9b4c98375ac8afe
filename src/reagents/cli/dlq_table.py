"""The table of ``reagents dlq list``: one line per dead letter, within the terminal.

Every cell stays on one line. The id (8 characters, what `dlq show` needs), the stage
and the origin are never cut by the table: an origin (``market.jsonl:12``,
``orders[3]@1045``) is shortened from the left beforehand, so its line number or offset
stays. The agent and the error (type: message) shrink with an ellipsis on a narrow
terminal, and the time of the last failure shows only from 100 columns on (`dlq show`
has it), so the table fits 80 columns.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC

from rich import box
from rich.table import Table
from rich.text import Text

from reagents.dead_letter import DeadLetter

__all__ = ["ORIGIN_WIDTH", "WIDE", "letters_table", "short_origin"]

ORIGIN_WIDTH = 16
"""The most characters an origin takes in the table."""
WIDE = 100
"""From this many columns on, the table also shows the time of the last failure."""


def short_origin(origin: str | None, limit: int = ORIGIN_WIDTH) -> str:
    """``origin`` cut from the left to ``limit`` characters (``-`` when unknown)."""
    if not origin:
        return "-"
    return origin if len(origin) <= limit else "…" + origin[-(limit - 1) :]


def letters_table(
    letters: list[DeadLetter], title: str, width: int, resolved: Collection[str] = ()
) -> Table:
    """``letters`` as a table titled ``title`` for ``width`` columns; ``resolved`` dimmed."""
    wide = width >= WIDE
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1, 0, 0))
    table.add_column("id", no_wrap=True, min_width=8)
    table.add_column("stage", no_wrap=True)
    table.add_column("agent", max_width=14)
    table.add_column("origin", no_wrap=True)
    table.add_column("error")
    table.add_column("n", no_wrap=True, justify="right")
    if wide:
        table.add_column("last (UTC)", no_wrap=True)
    for letter in letters:
        cells = [
            letter.dead_letter_id[:8],
            letter.stage.value,
            letter.agent_id or "-",
            short_origin(letter.origin),
            f"{letter.error_type}: {' '.join(letter.message.split())}",
            str(letter.attempts),
        ]
        if wide:
            cells.append(letter.last_failure_at.astimezone(UTC).strftime("%m-%d %H:%M:%S"))
        style = "dim" if letter.dead_letter_id in resolved else ""
        # the shrinkable columns wrap, their cells do not: one line, cut with "…"
        table.add_row(
            *(Text(cell, style=style, no_wrap=True, overflow="ellipsis") for cell in cells)
        )
    return table
