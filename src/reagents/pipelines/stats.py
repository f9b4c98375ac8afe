"""Per-agent and bus-wide counters, latency percentiles, cheap to update on every event."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from html import escape
from statistics import quantiles
from typing import Protocol

from reagents.ai.usage import ModelUsage
from reagents.events import AgentEvent
from reagents.operators.filters import Filter
from reagents.pipelines.latency import LatencyBuckets, LatencyHistogram
from reagents.pipelines.tap import EventTap

__all__ = [
    "AgentStats",
    "BusCounters",
    "StatsSnapshot",
    "StatsTable",
    "count_filter_error",
    "with_model_usage",
]

logger = logging.getLogger(__name__)

_LATENCY_SAMPLES = 4096


class BusCounters:
    """Bus-wide counters (per-agent numbers live in each runner's stats)."""

    __slots__ = ("_tap", "dead_letters", "emitted", "ingested")

    def __init__(self, tap: EventTap) -> None:
        self.ingested = 0
        self.emitted = 0
        self.dead_letters = 0
        self._tap = tap

    @property
    def subscriber_failures(self) -> int:
        """How often a subscriber of `Pipeline.events` raised (each isolated, logged)."""
        return self._tap.failures


@dataclass(slots=True)
class AgentStats:
    """Live counters of one agent or sink; `snapshot` freezes them for display.

    ``latencies`` is a sliding sample (for p50/p99 of recent work); ``histogram``
    counts every latency of the run in fixed buckets (for ``/metrics``).
    """

    received: int = 0
    processed: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    emitted: int = 0
    in_flight: int = 0
    filter_errors: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENCY_SAMPLES))
    histogram: LatencyHistogram = field(default_factory=LatencyHistogram)

    def record(self, seconds: float) -> None:
        """One handled event's latency, from routing to handled."""
        self.latencies.append(seconds)
        self.histogram.add(seconds)

    def snapshot(self, name: str, queue_depth: int) -> StatsSnapshot:
        """The counters now, with p50/p99 over the most recent latencies (ms)."""
        p50 = p99 = 0.0
        if len(self.latencies) >= 2:
            cuts = quantiles(self.latencies, n=100, method="inclusive")
            p50, p99 = cuts[49] * 1000, cuts[98] * 1000
        elif self.latencies:
            p50 = p99 = self.latencies[0] * 1000
        return StatsSnapshot(
            name=name,
            received=self.received,
            processed=self.processed,
            failed=self.failed,
            retried=self.retried,
            dead_lettered=self.dead_lettered,
            emitted=self.emitted,
            in_flight=self.in_flight,
            queue_depth=queue_depth,
            latency_p50_ms=p50,
            latency_p99_ms=p99,
            filter_errors=self.filter_errors,
        )


class _Counted(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def stats(self) -> AgentStats: ...


def count_filter_error(
    target: _Counted, subscription: Filter, event: AgentEvent, error: Exception
) -> None:
    """Count an event ``target``'s subscription raised on (the router: no match there).

    Logged at WARNING the first time only: a filter may fail on every event.
    """
    target.stats.filter_errors += 1
    if target.stats.filter_errors == 1:
        logger.warning(
            "agent %s: its subscription %s raised on event %s, which counts as no match "
            "(further failures are only counted, as filter_errors in its stats): %r",
            target.id,
            subscription.describe(),
            event.event_id,
            error,
        )


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """One agent's counters at one moment. Latency: from routing to handled, in ms."""

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
    ("in flight", "in_flight"),
    ("queued", "queue_depth"),
    ("p50 ms", "latency_p50_ms"),
    ("p99 ms", "latency_p99_ms"),
)


_MODEL_COLUMNS = (
    ("LLM agent", "name"),
    ("requests", "model_requests"),
    ("tokens in", "input_tokens"),
    ("tokens out", "output_tokens"),
    ("cost USD", "cost_usd"),
)


class StatsTable(dict[str, StatsSnapshot]):
    """Snapshots by agent id; renders as a text or HTML table (and one of model usage,
    when LLM agents called their models). ``latency`` holds each one's whole-run
    latency histogram (for metrics; not shown in the table)."""

    def __init__(
        self,
        snapshots: Mapping[str, StatsSnapshot] | None = None,
        latency: Mapping[str, LatencyBuckets] | None = None,
    ) -> None:
        super().__init__(snapshots or {})
        self.latency: dict[str, LatencyBuckets] = dict(latency or {})

    def rows(self) -> list[list[str]]:
        """Header row first, then one row per agent, all as text."""
        return self._table(_COLUMNS, self.values())

    def model_rows(self) -> list[list[str]]:
        """Header row, then one row per agent that called a model (empty: none did)."""
        called = [snap for snap in self.values() if snap.model_requests]
        return self._table(_MODEL_COLUMNS, called) if called else []

    @staticmethod
    def _table(
        columns: tuple[tuple[str, str], ...], snaps: Iterable[StatsSnapshot]
    ) -> list[list[str]]:
        rows = [[title for title, _ in columns]]
        rows.extend([_cell(getattr(snap, attr), attr) for _, attr in columns] for snap in snaps)
        return rows

    def __str__(self) -> str:
        text = _text(self.rows())
        models = self.model_rows()
        return f"{text}\n\n{_text(models)}" if models else text

    def _repr_html_(self) -> str:
        return "".join(_html(rows) for rows in (self.rows(), self.model_rows()) if rows)


def _text(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
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


def _cell(value: object, attr: str = "") -> str:
    if attr == "cost_usd":
        return f"{value:.4f}"  # cents and below: a call costs fractions of a cent
    return f"{value:.2f}" if isinstance(value, float) else str(value)
