"""`LatencyHistogram`: whole-run latencies in fixed buckets, next to the recent sample."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reagents.pipelines.latency import LATENCY_BOUNDS, LatencyHistogram
from reagents.pipelines.stats import AgentStats

latencies = st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False), max_size=200)


@given(latencies)
def test_cumulative_counts_are_the_latencies_at_or_under_each_bound(values: list[float]) -> None:
    histogram = LatencyHistogram()
    for value in values:
        histogram.add(value)
    buckets = histogram.snapshot()
    assert buckets.bounds == LATENCY_BOUNDS
    assert buckets.cumulative[:-1] == tuple(
        sum(v <= bound for v in values) for bound in LATENCY_BOUNDS
    )
    assert buckets.count == len(values)
    assert math.isclose(buckets.sum, math.fsum(values), abs_tol=1e-9)


def test_bounds_run_from_ten_microseconds_to_a_hundred_seconds_in_1_2_5_steps() -> None:
    assert LATENCY_BOUNDS[:4] == (1e-05, 2e-05, 5e-05, 1e-04)
    assert LATENCY_BOUNDS[-1] == 100.0
    assert len(LATENCY_BOUNDS) == 22


def test_a_bound_counts_in_its_own_bucket_and_above_the_last_in_inf() -> None:
    histogram = LatencyHistogram((0.1, 1.0))
    for value in (0.1, 0.5, 1.0, 7.0):
        histogram.add(value)
    assert histogram.snapshot().cumulative == (1, 3, 4)


@pytest.mark.parametrize("bounds", [(), (1.0, 1.0), (2.0, 1.0)])
def test_bad_bounds_are_refused(bounds: tuple[float, ...]) -> None:
    with pytest.raises(ValueError, match="increasing and not empty"):
        LatencyHistogram(bounds)


def test_the_histogram_keeps_what_the_sliding_sample_forgets() -> None:
    stats = AgentStats()
    for _ in range(5000):
        stats.record(0.5)
    stats.record(50.0)
    assert len(stats.latencies) == 4096
    snap = stats.histogram.snapshot()
    assert snap.count == 5001
    assert snap.cumulative[LATENCY_BOUNDS.index(0.5)] == 5000
    assert stats.snapshot("a", 0).latency_p50_ms == 500.0  # p50/p99 as before
