"""`LatencyHistogram`: every latency of a whole run in fixed log-spaced buckets, O(1)-ish.

An agent's p50/p99 come from a sliding sample of its recent latencies; a scrape (the
server's ``/metrics``) wants every latency since the start instead, as cumulative
buckets. Bounds are fixed (1-2-5 steps from 10 µs to 100 s, in seconds, Prometheus'
unit), so counting one latency is a `bisect` over 22 floats and one increment: about
0.1 µs, no allocation. A latency above the last bound counts in the +Inf bucket only.

    bounds  10µs 20µs 50µs ... 50s 100s  +Inf
    counts   3    9    40  ...  0   0     0      (per bucket; `snapshot` accumulates)
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from itertools import accumulate, pairwise

__all__ = ["LATENCY_BOUNDS", "LatencyBuckets", "LatencyHistogram"]

LATENCY_BOUNDS: tuple[float, ...] = (
    *(step * 10.0**exponent for exponent in range(-5, 2) for step in (1, 2, 5)),
    100.0,
)
"""Upper bounds of the buckets in seconds (each bucket counts latencies <= its bound)."""


@dataclass(frozen=True, slots=True)
class LatencyBuckets:
    """A histogram at one moment: cumulative counts per upper bound, as Prometheus has it.

    ``cumulative[i]`` counts latencies <= ``bounds[i]``; the last entry (one more than
    the bounds) is the +Inf bucket, equal to ``count``.
    """

    bounds: tuple[float, ...]
    cumulative: tuple[int, ...]
    sum: float
    """Sum of every latency counted, in seconds."""

    @property
    def count(self) -> int:
        """How many latencies were counted."""
        return self.cumulative[-1]


class LatencyHistogram:
    """Counts latencies (seconds) into `LATENCY_BOUNDS` buckets for a whole run."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BOUNDS) -> None:
        if not bounds or any(b <= a for a, b in pairwise(bounds)):
            raise ValueError(f"histogram bounds must be increasing and not empty, got {bounds}")
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0

    def add(self, seconds: float) -> None:
        """Count one latency (the first bucket whose bound is >= it)."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.sum += seconds

    def snapshot(self) -> LatencyBuckets:
        """The counts now, cumulative (a copy: counting goes on)."""
        return LatencyBuckets(self.bounds, tuple(accumulate(self.counts)), self.sum)
