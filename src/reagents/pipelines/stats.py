"""Per-agent and bus-wide counters, latency percentiles, cheap to update on every event.

`StatsSnapshot`, `StatsTable` and `with_model_usage` live in `snapshots`; they are
re-exported here, where callers have always found them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from reagents.events import AgentEvent
from reagents.operators.filters import Filter
from reagents.pipelines.latency import LatencyDigest, LatencyParts
from reagents.pipelines.snapshots import StatsSnapshot, StatsTable, with_model_usage
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

    ``latency`` counts every handled event's latency of the run (see `LatencyParts`):
    the runner calls ``latency.record(queued_ns, handling_ns)``.
    """

    received: int = 0
    processed: int = 0
    failed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    emitted: int = 0
    in_flight: int = 0
    filter_errors: int = 0
    latency: LatencyParts = field(default_factory=LatencyParts)

    def snapshot(self, name: str, queue_depth: int) -> StatsSnapshot:
        """The counters now, with latency percentiles over the whole run (ms)."""
        total, queued, handling = (_Millis(sketch.digest()) for sketch in self.latency.parts())
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
            latency_p50_ms=total.at(0.5),
            latency_p99_ms=total.at(0.99),
            filter_errors=self.filter_errors,
            latency_p90_ms=total.at(0.9),
            latency_p999_ms=total.at(0.999),
            latency_max_ms=total.max,
            queued_p50_ms=queued.at(0.5),
            queued_p90_ms=queued.at(0.9),
            queued_p99_ms=queued.at(0.99),
            queued_p999_ms=queued.at(0.999),
            queued_max_ms=queued.max,
            handling_p50_ms=handling.at(0.5),
            handling_p90_ms=handling.at(0.9),
            handling_p99_ms=handling.at(0.99),
            handling_p999_ms=handling.at(0.999),
            handling_max_ms=handling.max,
        )


class _Millis:
    """A digest's percentiles in milliseconds."""

    def __init__(self, digest: LatencyDigest) -> None:
        self.digest = digest
        self.max = digest.max * 1000

    def at(self, q: float) -> float:
        return self.digest.quantile(q) * 1000


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
