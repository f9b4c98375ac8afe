"""Where each box of a pipeline's SVG picture goes: sizes from character counts, columns.

`lay_out` measures every node (title, wrapped label, details) and stacks them in four
columns; `reagents.views.svg` draws the result.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from pathlib import PurePath

from reagents.views.model import BUS_ID, DEAD_LETTERS_ID, GraphModel, GraphNode

SANS = "Helvetica, Arial, sans-serif"
MONO = "Menlo, Consolas, 'DejaVu Sans Mono', monospace"
TITLE_SIZE, DETAIL_SIZE, LABEL_SIZE = 13, 11, 11
PAD, MARGIN, ROW_GAP, LINE = 10, 16, 16, 14
BUS_WIDTH, SOURCE_GAP, DEAD_GAP = 44, 44, 64
LABEL_CHARS, LABEL_LINES, DETAIL_CHARS = 44, 2, 40
COLUMN: dict[str, int] = {"source": 0, "bus": 1, "agent": 2, "sink": 2, "dead_letters": 3}
HEADERS = ("sources", "bus", "agents and sinks", "dead letters")


def text_width(text: str, size: float, mono: bool = False) -> float:
    """A generous estimate of the rendered width (wide East Asian characters count 2)."""
    units = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return units * size * (0.61 if mono else 0.62)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrap(text: str, limit: int = LABEL_CHARS, lines: int = LABEL_LINES) -> list[str]:
    """Break ``text`` at spaces into at most ``lines`` lines; cut the last one with "…"."""
    out: list[str] = []
    rest = " ".join(text.split())
    while rest and len(out) < lines - 1 and len(rest) > limit:
        cut = max(rest.rfind(" AND ", 0, limit + 1), rest.rfind(" OR ", 0, limit + 1))
        if cut < limit // 3:
            cut = rest.rfind(" ", 0, limit + 1)
        cut = cut if cut > 0 else limit
        out.append(rest[:cut])
        rest = rest[cut:].lstrip()
    if rest:
        out.append(shorten(rest, limit))
    return out


def detail_lines(node: GraphNode) -> list[str]:
    details = node.details
    if node.kind == "agent":
        lines = [
            f"max_concurrent {details.get('max_concurrent')} · priority {details.get('priority')}"
        ]
        lines += [str(details[key]) for key in ("retry", "rate", "timeout") if key in details]
    else:
        lines = [
            f"{key}: {PurePath(str(value)).name if key == 'path' else value}"
            for key, value in details.items()
            if key != "subscription"
        ]
    return [shorten(line, DETAIL_CHARS) for line in lines[:3]]


@dataclass
class Box:
    node: GraphNode
    lines: list[str]
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def measure(node: GraphNode) -> Box:
    lines = detail_lines(node)
    widths = [
        text_width(node.label, TITLE_SIZE),
        *(text_width(ln, DETAIL_SIZE, True) for ln in lines),
    ]
    return Box(node, lines, w=max(90.0, max(widths) + 2 * PAD), h=24.0 + LINE * len(lines))


@dataclass
class Layout:
    boxes: dict[str, Box]
    labels: dict[str, list[str]]  # subscriber id -> wrapped subscription label
    top: float
    bottom: float
    width: float
    route_y: float


def lay_out(graph: GraphModel) -> Layout:
    boxes = {node.id: measure(node) for node in graph.nodes if node.kind in COLUMN}
    columns: list[list[Box]] = [[], [], [], []]
    for box in boxes.values():
        columns[COLUMN[box.node.kind]].append(box)
    labels = {
        e.target: wrap(e.label)
        for e in graph.edges
        if e.source == BUS_ID and e.target in boxes and e.label and e.target != DEAD_LETTERS_ID
    }
    label_w = max(
        (text_width(ln, LABEL_SIZE, True) for lines in labels.values() for ln in lines), default=0
    )
    top = MARGIN + 56.0
    y = top
    for box in columns[2]:
        above = LINE * len(labels.get(box.node.id, []))
        box.y = y + max(0.0, above + 14 - box.h / 2)
        y = box.y + box.h + ROW_GAP
    bottom = max(y - ROW_GAP, top + 40.0)
    for column in (columns[0], columns[3]):
        height = sum(b.h for b in column) + ROW_GAP * max(0, len(column) - 1)
        y = (top + bottom - height) / 2
        for box in column:
            box.y, y = y, y + box.h + ROW_GAP
    bottom = max([bottom, *(b.y + b.h for b in boxes.values() if b.node.kind != "bus")])
    for box in columns[1]:
        box.y, box.h = top, bottom - top
    gaps = (SOURCE_GAP, max(70.0, label_w + 36), DEAD_GAP)
    x = float(MARGIN)
    for index, column in enumerate(columns):
        width = BUS_WIDTH if index == 1 else max((b.w for b in column), default=0.0)
        for box in column:
            box.x, box.w = x, width if index != 3 else box.w
        x += width + (gaps[index] if index < 3 and width else 0)
    return Layout(boxes, labels, top, bottom, x + MARGIN, bottom + 22)
