"""Render a `GraphModel` as a standalone SVG picture, in pure Python and offline.

Four columns, left to right: sources, the bus (a tall bar), agents and sinks (one
row each), dead letters. Subscriptions label the arrows from the bus; reactions go
back to the bus as dashed arrows; failures go to the dead letters as dotted red ones::

    [market ]──▶┃   ┃── type = alert AND priority < 3 ─▶[ risk  ]┈┈▶{dead letters}
    [inbox  ]──▶┃bus┃◀- - - - - - - - - - - - - - - - -[       ]
                ┗━┳━┛└┈┈┈┈┈┈ undecodable, invalid or unroutable ┈┈┈┈┈┈┈┈┈┈┈┈┈┈┈┘

Sizes come from character counts (no font metrics), so long text is wrapped or cut
with "…" (the full text stays in a hover ``<title>``). Every piece of text is
XML-escaped, and characters XML forbids are replaced, so any filter text is safe.
"""

from __future__ import annotations

import re
from html import escape

from reagents.views.model import BUS_ID, DEAD_LETTERS_ID, GraphEdge, GraphModel, collapse_flows
from reagents.views.svg_layout import (
    COLUMN,
    DETAIL_SIZE,
    HEADERS,
    LABEL_SIZE,
    LINE,
    MARGIN,
    MONO,
    PAD,
    SANS,
    TITLE_SIZE,
    Box,
    Layout,
    lay_out,
    shorten,
    text_width,
)

__all__ = ["graph_to_svg", "svg_text"]

_COLORS: dict[str, tuple[str, str]] = {  # fill, stroke
    "source": ("#e8f1fb", "#3a78c2"),
    "bus": ("#eeeeee", "#666666"),
    "agent": ("#e6f5ec", "#2e8b57"),
    "sink": ("#fff4dc", "#b8860b"),
    "dead_letters": ("#fde4e4", "#c0392b"),
}
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def svg_text(text: str) -> str:
    """``text`` safe inside SVG/XML text or a quoted attribute."""
    return escape(_INVALID_XML.sub("\ufffd", text), quote=True)


def graph_to_svg(graph: GraphModel) -> str:
    """The graph as a standalone ``<svg>`` document (no scripts, no external resources).

    An agent's flow is drawn on the arrow into the agent: ``subscription ▸ operators``.
    """
    graph = collapse_flows(graph)
    layout = lay_out(graph)
    parts = [_defs()]
    parts += _headers(layout)
    for edge in graph.edges:
        parts.append(_edge(edge, layout))
    parts += _failures_label(graph, layout)
    parts += [_node(box) for box in layout.boxes.values()]
    footer_y = layout.route_y + 30
    index_lines = _index_lines(graph)
    for number, line in enumerate(index_lines):
        x = MARGIN + (12 if number else 0)
        parts.append(_text(x, footer_y + number * LINE, line, LABEL_SIZE, "#444", mono=True))
    height = footer_y + LINE * len(index_lines) + MARGIN
    legend_w = text_width(_LEGEND, LABEL_SIZE)
    width = max(layout.width, MARGIN * 2 + legend_w, MARGIN * 2 + text_width(_title(graph), 14))
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" '
        f'aria-label="{svg_text(_title(graph))}" font-family="{SANS}">'
    )
    title = f"<title>{svg_text(_title(graph))}</title>"
    background = f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
    caption = _text(MARGIN, MARGIN + 12, _title(graph), 14, "#222", bold=True)
    legend = _text(MARGIN, MARGIN + 28, _LEGEND, LABEL_SIZE - 1, "#777")
    return "\n".join([head, title, background, caption, legend, *parts, "</svg>"])


_LEGEND = "solid: subscription · dashed: reactions back onto the bus · dotted red: failures"


def _title(graph: GraphModel) -> str:
    return f"pipeline {graph.name!r}"


def _defs() -> str:
    markers = []
    for name, color in (("flow", "#555555"), ("back", "#8a8a8a"), ("fail", "#c0392b")):
        markers.append(
            f'<marker id="reagents-{name}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
        )
    return f"<defs>{''.join(markers)}</defs>"


def _headers(layout: Layout) -> list[str]:
    firsts: dict[int, Box] = {}
    for box in layout.boxes.values():
        firsts.setdefault(COLUMN[box.node.kind], box)
    return [
        _text(box.x, layout.top - 8, HEADERS[column], 10, "#999")
        for column, box in sorted(firsts.items())
    ]


def _text(
    x: float, y: float, text: str, size: int, fill: str, *, bold: bool = False, mono: bool = False
) -> str:
    font = f' font-family="{MONO}"' if mono else ""
    weight = ' font-weight="bold"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}"{font}{weight}>'
        f"{svg_text(text)}</text>"
    )


def _node(box: Box) -> str:
    fill, stroke = _COLORS.get(box.node.kind, ("#ffffff", "#333333"))
    radius = box.h / 2 if box.node.kind == "source" else 6
    if box.node.kind == "bus":
        radius = 8
    hover = "\n".join(
        [f"{box.node.kind} {box.node.label}"]
        + [f"{key}: {value}" for key, value in box.node.details.items()]
    )
    shape = (
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" height="{box.h:.1f}" '
        f'rx="{radius:.1f}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>'
    )
    if box.node.kind == "bus":
        cx = box.x + box.w / 2
        label = (
            f'<text x="{cx:.1f}" y="{box.cy:.1f}" font-size="{TITLE_SIZE}" fill="#333" '
            f'font-weight="bold" text-anchor="middle" dominant-baseline="middle" '
            f'transform="rotate(-90 {cx:.1f} {box.cy:.1f})">{svg_text(box.node.label)}</text>'
        )
        return f"<g><title>{svg_text(hover)}</title>{shape}{label}</g>"
    inset = box.x + (PAD + box.h / 4 if box.node.kind == "source" else PAD)
    texts = [_text(inset, box.y + 17, box.node.label, TITLE_SIZE, "#222", bold=True)]
    texts += [
        _text(inset, box.y + 17 + LINE * (n + 1), line, DETAIL_SIZE, "#555", mono=True)
        for n, line in enumerate(box.lines)
    ]
    return f"<g><title>{svg_text(hover)}</title>{shape}{''.join(texts)}</g>"


def _edge(edge: GraphEdge, layout: Layout) -> str:
    boxes = layout.boxes
    if edge.source not in boxes or edge.target not in boxes:
        return ""
    start, end = boxes[edge.source], boxes[edge.target]
    hop = COLUMN[end.node.kind] - COLUMN[start.node.kind]
    hover = f"<title>{svg_text(f'{start.node.label} → {end.node.label}: {edge.label}')}</title>"
    if hop >= 2:
        return _routed_below(start, end, edge.label, layout.route_y, hover)
    back = hop < 0
    kind = "fail" if edge.target == DEAD_LETTERS_ID else ("back" if back else "flow")
    left, right = (end, start) if back else (start, end)
    row = right if left.node.kind == "bus" else left
    offset = 7 if back else (-5 if edge.source == BUS_ID else 0)
    y1, y2 = _anchor(left, row.cy) + offset, _anchor(right, row.cy) + offset
    x1, x2 = left.x + left.w, right.x
    if back:
        x1, y1, x2, y2 = x2, y2, x1, y1
    mid = (x1 + x2) / 2
    path = f"M{x1:.1f},{y1:.1f} C{mid:.1f},{y1:.1f} {mid:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    parts = [f'<g>{hover}<path d="{path}" {_STROKES[kind]} marker-end="url(#reagents-{kind})"/>']
    if kind == "flow" and edge.source == BUS_ID:
        lines = layout.labels.get(edge.target, [])
        for n, line in enumerate(reversed(lines)):
            parts.append(_text(x1 + 8, y1 - 5 - LINE * n, line, LABEL_SIZE, "#1f4e79", mono=True))
    return "".join(parts) + "</g>"


_STROKES = {
    "flow": 'fill="none" stroke="#555555" stroke-width="1.4"',
    "back": 'fill="none" stroke="#8a8a8a" stroke-width="1.2" stroke-dasharray="5 3"',
    "fail": 'fill="none" stroke="#c0392b" stroke-width="1.2" stroke-dasharray="2 3"',
}


def _anchor(box: Box, y: float) -> float:
    """Where an edge meets ``box`` near height ``y`` (the bus is tall; others: centre)."""
    if box.node.kind != "bus":
        return box.cy
    return min(max(y, box.y + 12), box.y + box.h - 12)


def _routed_below(start: Box, end: Box, label: str, y: float, hover: str) -> str:
    kind = "fail" if end.node.id == DEAD_LETTERS_ID else "flow"
    x1, x2 = start.x + start.w / 2, end.x + end.w / 2
    y1, y2 = start.y + start.h, end.y + end.h
    path = f"M{x1:.1f},{y1:.1f} L{x1:.1f},{y:.1f} L{x2:.1f},{y:.1f} L{x2:.1f},{y2:.1f}"
    text = (
        _text(x1 + 10, y - 5, shorten(label, 60), LABEL_SIZE, "#c0392b", mono=True) if label else ""
    )
    line = f'<path d="{path}" {_STROKES[kind]} marker-end="url(#reagents-{kind})"/>'
    return f"<g>{hover}{line}{text}</g>"


def _failures_label(graph: GraphModel, layout: Layout) -> list[str]:
    """One "failures" label beside the dead letters instead of one per arrow."""
    box = layout.boxes.get(DEAD_LETTERS_ID)
    sources = [e for e in graph.edges if e.target == DEAD_LETTERS_ID and e.source != BUS_ID]
    if box is None or not sources:
        return []
    label = ", ".join(sorted({e.label for e in sources if e.label}))
    return [_text(box.x, box.y - 6, shorten(label, 24), LABEL_SIZE, "#c0392b", mono=True)]


def _index_lines(graph: GraphModel, limit: int = 6) -> list[str]:
    if not graph.index:
        return []
    lines = [shorten(f"{key} → {', '.join(ids)}", 90) for key, ids in graph.index.items()]
    extra = [f"… {len(lines) - limit} more"] if len(lines) > limit else []
    return ["router index (event type → agents):", *lines[:limit], *extra]
