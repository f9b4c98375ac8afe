"""Whole-run latency percentiles: a log-linear sketch with a relative error of 1/128.

Every latency of a run (integer nanoseconds, from ``time.perf_counter_ns``) is counted
in a bucket; buckets split each power of two into 64 equal parts (DDSketch and HDR
histograms use the same idea), so a percentile read back is the middle of its bucket,
within 1/128 (0.8%) of a latency that really occurred, at any scale: 8 µs, 80 ms or 8
min. Latencies under 128 ns are counted exactly. Buckets live in a dict that holds
only the ones used (a few hundred for a run spread over four decades).

Why not a library: per-record cost on this machine (2 vCPU, Python 3.11, min / median
of 5-15 rounds over 100-200k latencies; the runner spends ~6 µs an event):

    HdrHistogram.record_value (hdrhistogram 0.10.8, 2 digits)   1.65 / 1.87 µs
    DDSketch.add (ddsketch 3.0.1, 1% accuracy)                  1.15 / 1.35 µs
    the 1-2-5 Prometheus histogram this replaces (bisect)       0.15 / 0.18 µs
    one sketch add (bit_length, shift, dict increment)          0.14 / 0.26 µs
    `LatencyParts.record`: total, waiting, handling (3 adds)    0.45-0.79 / 0.66-1.0 µs

Both libraries are pure Python per record, 20-30% of an event's whole handling; one
sketch add costs what the old histogram did. The waiting/handling split is the price
of three: in ``benchmarks/handling.py`` the runner went from 6.0-6.4 to 6.7-7.4 µs an
event (min of 7 rounds, 3 interleaved runs on a shared machine): +0.4-0.9 µs.
``/metrics`` keeps its 1-2-5 buckets (`LATENCY_BOUNDS`), now read off the sketch: a
latency within 0.8% of a bound may be counted in the bucket next to it.

What was cut instead is the clock: a busy runner reads ``perf_counter_ns`` twice an
event (queued; end of a handling, which is also the start of the next), not four
times. Doing the three adds with less Python work did not pay (100-200k lognormal
latencies, min of 5): buffering and folding 4,096 at a time through a comprehension
0.53 µs, sorting and bisecting the buffer 0.50 µs, against 0.55 µs; one joint
(queued, handling) key per event 0.57-0.65 µs and 119k keys for 200k latencies.

    bucket key   (bits << 6) + top 7 bits     1,000 ns -> (10 << 6) + 125 = 765
    digest       sorted keys, cumulative counts; quantile(q) = nearest rank's bucket
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from dataclasses import dataclass
from itertools import accumulate

__all__ = [
    "LATENCY_BOUNDS",
    "RELATIVE_ERROR",
    "LatencyBuckets",
    "LatencyDigest",
    "LatencyParts",
    "LatencySketch",
    "bucket_key",
]

RELATIVE_ERROR = 1 / 128
"""How far a percentile read from a sketch may be from a latency that occurred."""

LATENCY_BOUNDS: tuple[float, ...] = (
    *(step * 10.0**exponent for exponent in range(-5, 2) for step in (1, 2, 5)),
    100.0,
)
"""Upper bounds of the Prometheus buckets in seconds (1-2-5 steps, 10 µs to 100 s)."""

_EXACT_BELOW = 576  # keys of latencies under 128 ns are 448 + ns: exact


def bucket_key(ns: int) -> int:
    """The bucket of a latency of ``ns`` nanoseconds (>= 0); keys grow with latency."""
    bits = (ns | 127).bit_length()
    return (bits << 6) + (ns >> (bits - 7))


def bucket_value(key: int) -> float:
    """The middle of bucket ``key`` in ns (within `RELATIVE_ERROR` of all it holds)."""
    if key < _EXACT_BELOW:
        return float(key - 448)
    shift = (key >> 6) - 8  # bits - 7
    low = ((key & 63) + 64) << shift
    return low + ((1 << shift) - 1) / 2


class LatencySketch:
    """Counts latencies (ns) of a whole run in log-linear buckets; `digest` reads them."""

    __slots__ = ("counts", "total_ns")

    def __init__(self) -> None:
        self.counts: defaultdict[int, int] = defaultdict(int)
        self.total_ns = 0

    def add(self, ns: int) -> None:
        """Count one latency of ``ns`` nanoseconds."""
        if ns < 0:
            raise ValueError(f"a latency cannot be negative, got {ns} ns")
        self.counts[bucket_key(ns)] += 1
        self.total_ns += ns

    def digest(self) -> LatencyDigest:
        """The counts now, sorted and cumulative (a copy: counting goes on)."""
        keys = sorted(self.counts)
        cumulative = tuple(accumulate(self.counts[key] for key in keys))
        return LatencyDigest(tuple(keys), cumulative, self.total_ns / 1e9)


class LatencyParts:
    """One agent's latencies of handled events, each in three sketches:

    - ``total``: from routing (the event queued for the agent; for an agent with a
      flow, the flow's output queued) to handled = ``queued`` + ``handling``;
    - ``queued``: until its handler is called for the attempt that succeeded: waiting
      for a worker, for the agent's rate limit, and for earlier attempts and backoff;
    - ``handling``: that call, awaiting what it returns, checking its outputs, routing
      them and settling the event (its acknowledgement released).

    Dead-lettered events are not counted. `record` inlines `LatencySketch.add` three
    times (about 3x one add): it runs once per handled event. The runner reads the
    clock once an event while busy (one reading ends a handling and starts the next),
    so the split between ``queued`` and ``handling`` moves by the few hundred ns of
    bookkeeping between two handlings; ``total`` is exact.
    """

    __slots__ = ("handling", "queued", "total")

    def __init__(self) -> None:
        self.total = LatencySketch()
        self.queued = LatencySketch()
        self.handling = LatencySketch()

    def parts(self) -> tuple[LatencySketch, LatencySketch, LatencySketch]:
        """The sketches of ``total``, ``queued`` and ``handling``, in that order."""
        return self.total, self.queued, self.handling

    def record(self, queued_ns: int, handling_ns: int) -> None:
        """Count one handled event's time in the queue and in the handler (ns, >= 0)."""
        ns = queued_ns + handling_ns
        bits = (ns | 127).bit_length()
        self.total.counts[(bits << 6) + (ns >> (bits - 7))] += 1
        self.total.total_ns += ns
        bits = (queued_ns | 127).bit_length()
        self.queued.counts[(bits << 6) + (queued_ns >> (bits - 7))] += 1
        self.queued.total_ns += queued_ns
        bits = (handling_ns | 127).bit_length()
        self.handling.counts[(bits << 6) + (handling_ns >> (bits - 7))] += 1
        self.handling.total_ns += handling_ns


@dataclass(frozen=True, slots=True)
class LatencyDigest:
    """A sketch at one moment: its used bucket keys, ascending, and cumulative counts."""

    keys: tuple[int, ...]
    cumulative: tuple[int, ...]
    sum: float
    """Sum of every latency counted, in seconds."""

    @property
    def count(self) -> int:
        """How many latencies were counted."""
        return self.cumulative[-1] if self.cumulative else 0

    def quantile(self, q: float) -> float:
        """The latency (seconds) at quantile ``q`` in 0..1 by nearest rank (0: none yet)."""
        if not 0 <= q <= 1:
            raise ValueError(f"a quantile is between 0 and 1, got {q}")
        if not self.keys:
            return 0.0
        millionths = round(q * 1_000_000)
        rank = max(1, -(-millionths * self.count // 1_000_000))  # ceil(q * count), exact
        return bucket_value(self.keys[bisect_left(self.cumulative, rank)]) / 1e9

    @property
    def max(self) -> float:
        """The largest latency counted, in seconds (within `RELATIVE_ERROR`; 0: none)."""
        return bucket_value(self.keys[-1]) / 1e9 if self.keys else 0.0

    def buckets(self, bounds: tuple[float, ...] = LATENCY_BOUNDS) -> LatencyBuckets:
        """The counts as a Prometheus histogram with upper ``bounds`` (seconds)."""
        values = [bucket_value(key) / 1e9 for key in self.keys]
        below = [0, *self.cumulative]
        cumulative = [below[bisect_right(values, bound)] for bound in bounds]
        return LatencyBuckets(bounds, (*cumulative, self.count), self.sum)


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
