"""`StatsSnapshot`: one agent's counters at one moment; `StatsTable` renders them.

The text tables fit an 80-column terminal: one of counts, one of latencies (each
agent's row from routing to handled, then its rows ``  waiting`` and ``  handling``,
the two parts of it), one of model usage when LLM agents called their models. Long
names are cut in the middle as far as needed (`NAME_WIDTH` at most); `rows` keeps
them whole.

    agent              received  processed  failed  retried  dead letters  emitted
    vwap                   1183       1080       0        0             0     1080

    latency ms  queued  in flight    p50    p90    p99  p99.9    max
    vwap             0          0  0.081  0.153  0.330  0.612  0.988
      waiting                      0.042  0.090  0.210  0.415  0.802
      handling                     0.031  0.052  0.101  0.170  0.190
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from html import escape

from reagents.ai.usage import ModelUsage
from reagents.pipelines.latency import LatencyBuckets

__all__ = ["NAME_WIDTH", "StatsSnapshot", "StatsTable", "with_model_usage"]

NAME_WIDTH = 16
"""Names are cut (an ellipsis in the middle) to fit 80 columns, down to this width."""


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """One agent's counters at one moment.

    Latencies are in ms over the whole run (within 0.8%, see `LatencySketch`), of the
    events handled: ``latency_*`` from routing to handled = ``queued_*`` (waiting in
    the agent's queue, and for retries) + ``handling_*`` (in the handler).
    """

    name: str
    received: int
    processed: int
    failed: int
    retried: int
    dead_lettered: int
    emitted: int
    in_flight: int
    queue_depth: int
    latency_p50_ms: float
    latency_p99_ms: float
    filter_errors: int = 0
    """Events its subscription filter raised on (each counted as no match)."""
    model_requests: int = 0
    """An LLM agent's requests to its model (0 for other agents; see `LLMAgent.usage`)."""
    input_tokens: int = 0
    """An LLM agent's input tokens so far."""
    output_tokens: int = 0
    """An LLM agent's output tokens so far."""
    cost_usd: float = 0.0
    """An LLM agent's cost so far in USD (0 without a price for its model)."""
    latency_p90_ms: float = 0.0
    latency_p999_ms: float = 0.0
    """The 99.9th percentile."""
    latency_max_ms: float = 0.0
    queued_p50_ms: float = 0.0
    queued_p90_ms: float = 0.0
    queued_p99_ms: float = 0.0
    queued_p999_ms: float = 0.0
    queued_max_ms: float = 0.0
    handling_p50_ms: float = 0.0
    handling_p90_ms: float = 0.0
    handling_p99_ms: float = 0.0
    handling_p999_ms: float = 0.0
    handling_max_ms: float = 0.0


def with_model_usage(snapshot: StatsSnapshot, usage: ModelUsage) -> StatsSnapshot:
    """``snapshot`` with an LLM agent's model requests, tokens and cost filled in."""
    return replace(
        snapshot,
        model_requests=usage.requests,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cost_usd=usage.cost_usd or 0.0,
    )


_COLUMNS = (
    ("agent", "name"),
    ("received", "received"),
    ("processed", "processed"),
    ("failed", "failed"),
    ("retried", "retried"),
    ("dead letters", "dead_lettered"),
    ("emitted", "emitted"),
)
_PERCENTILES = (
    ("p50", "p50"),
    ("p90", "p90"),
    ("p99", "p99"),
    ("p99.9", "p999"),
    ("max", "max"),
)
_LATENCY_HEAD = ["latency ms", "queued", "in flight", *(title for title, _ in _PERCENTILES)]
_PARTS = (("", "latency"), ("  waiting", "queued"), ("  handling", "handling"))
_MODEL_COLUMNS = (
    ("LLM agent", "name"),
    ("requests", "model_requests"),
    ("tokens in", "input_tokens"),
    ("tokens out", "output_tokens"),
    ("cost USD", "cost_usd"),
)


class StatsTable(dict[str, StatsSnapshot]):
    """Snapshots by agent id; renders as text or HTML tables of counts, latencies (and
    model usage, when LLM agents called their models). ``latency`` holds each one's
    whole-run latency histogram in Prometheus buckets (for ``/metrics``)."""

    def __init__(
        self,
        snapshots: Mapping[str, StatsSnapshot] | None = None,
        latency: Mapping[str, LatencyBuckets] | None = None,
    ) -> None:
        super().__init__(snapshots or {})
        self.latency: dict[str, LatencyBuckets] = dict(latency or {})

    def rows(self) -> list[list[str]]:
        """Header row first, then one row of counts per agent, all as text."""
        return self._table(_COLUMNS, self.values())

    def latency_rows(self) -> list[list[str]]:
        """Header row, then per agent: queued and in flight now, and percentiles of its
        latency from routing to handled, then of its two parts (waiting in the queue,
        in the handler), in ms over the whole run."""
        rows = [list(_LATENCY_HEAD)]
        for snap in self.values():
            for label, prefix in _PARTS:
                now = [str(snap.queue_depth), str(snap.in_flight)] if not label else ["", ""]
                rows.append(
                    [
                        label or snap.name,
                        *now,
                        *(_ms(getattr(snap, f"{prefix}_{key}_ms")) for _, key in _PERCENTILES),
                    ]
                )
        return rows

    def model_rows(self) -> list[list[str]]:
        """Header row, then one row per agent that called a model (empty: none did)."""
        called = [snap for snap in self.values() if snap.model_requests]
        return self._table(_MODEL_COLUMNS, called) if called else []

    def tables(self) -> list[list[list[str]]]:
        """The tables worth showing: counts, latencies, model usage (if any)."""
        return [rows for rows in (self.rows(), self.latency_rows(), self.model_rows()) if rows]

    @staticmethod
    def _table(
        columns: tuple[tuple[str, str], ...], snaps: Iterable[StatsSnapshot]
    ) -> list[list[str]]:
        rows = [[title for title, _ in columns]]
        rows.extend([_cell(getattr(snap, attr), attr) for _, attr in columns] for snap in snaps)
        return rows

    def __str__(self) -> str:
        return "\n\n".join(_text(rows) for rows in self.tables())

    def _repr_html_(self) -> str:
        return "".join(_html(rows) for rows in self.tables())


def _text(rows: list[list[str]], width: int = 80) -> str:
    """Columns 2 spaces apart; names cut to fit ``width`` (to `NAME_WIDTH`, no further)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    over = sum(widths) + 2 * (len(widths) - 1) - width
    if over > 0 and widths[0] > NAME_WIDTH:
        widths[0] = max(NAME_WIDTH, widths[0] - over)
        rows = [[_name(row[0], widths[0]), *row[1:]] for row in rows]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def _html(rows: list[list[str]]) -> str:
    head, *body = rows
    th = "".join(_html_cell("th", i, c) for i, c in enumerate(head))
    trs = "".join(
        "<tr>" + "".join(_html_cell("td", i, c) for i, c in enumerate(r)) + "</tr>" for r in body
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{trs}</tbody></table>"


def _html_cell(tag: str, column: int, text: str) -> str:
    align = ' style="text-align:right"' if column else ""  # numbers right, names left
    return f"<{tag}{align}>{escape(text)}</{tag}>"


def _name(name: str, width: int) -> str:
    """``name`` in ``width`` characters: its start and end, an ellipsis between."""
    if len(name) <= width:
        return name
    head = (width - 1) // 2
    return f"{name[:head]}…{name[len(name) - (width - 1 - head) :]}"


def _ms(value: float) -> str:
    """Milliseconds in at most 7 characters, 3 significant digits or more."""
    if value < 10:
        return f"{value:.3f}"
    if value < 1000:
        return f"{value:.1f}"
    return f"{value:,.0f}" if value < 1_000_000 else f"{value:.1e}"  # 1.2e+06: 20 min


def _cell(value: object, attr: str = "") -> str:
    if attr == "cost_usd":
        return f"{value:.4f}"  # cents and below: a call costs fractions of a cent
    return f"{value:.2f}" if isinstance(value, float) else str(value)
