"""`LatencySketch`: whole-run latency percentiles within 1/128, and Prometheus buckets."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reagents.pipelines.latency import (
    LATENCY_BOUNDS,
    RELATIVE_ERROR,
    LatencyParts,
    LatencySketch,
    bucket_key,
)

# 0 ns to ~17 minutes: every scale a latency has
latencies = st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=300)
quantiles = st.sampled_from([0.0, 0.5, 0.9, 0.99, 0.999, 1.0])


def _nearest_rank(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(round(q * len(ordered) * 1e6) / 1e6)) - 1]


@given(latencies, quantiles)
def test_a_quantile_is_within_the_relative_error_of_the_exact_one(
    values: list[int], q: float
) -> None:
    sketch = LatencySketch()
    for ns in values:
        sketch.add(ns)
    exact = _nearest_rank(values, q) / 1e9
    assert math.isclose(sketch.digest().quantile(q), exact, rel_tol=RELATIVE_ERROR, abs_tol=1e-12)


@given(latencies)
def test_count_sum_and_max_cover_every_latency(values: list[int]) -> None:
    sketch = LatencySketch()
    for ns in values:
        sketch.add(ns)
    digest = sketch.digest()
    assert digest.count == len(values)
    assert math.isclose(digest.sum, sum(values) / 1e9)
    assert math.isclose(digest.max, max(values) / 1e9, rel_tol=RELATIVE_ERROR, abs_tol=1e-12)


@given(st.lists(st.integers(min_value=0, max_value=10**12), max_size=50))
def test_keys_grow_with_the_latency(values: list[int]) -> None:
    ordered = sorted(values)
    assert [bucket_key(ns) for ns in ordered] == sorted(bucket_key(ns) for ns in ordered)


def test_latencies_under_128_ns_are_exact_and_no_quantile_of_nothing() -> None:
    sketch = LatencySketch()
    assert sketch.digest().quantile(0.99) == 0.0
    assert sketch.digest().max == 0.0
    for ns in (0, 1, 127):
        sketch.add(ns)
    assert [round(sketch.digest().quantile(q) * 1e9, 6) for q in (0, 0.5, 1)] == [0, 1, 127]


def test_the_whole_run_counts_what_a_sliding_sample_of_4096_forgot() -> None:
    sketch = LatencySketch()
    for _ in range(100):
        sketch.add(50_000_000)  # 50 ms, early in the run
    for _ in range(5000):
        sketch.add(100_000)  # then 0.1 ms
    assert math.isclose(sketch.digest().quantile(0.99), 0.05, rel_tol=RELATIVE_ERROR)


@given(latencies)
def test_prometheus_buckets_count_the_latencies_under_each_bound(values: list[int]) -> None:
    """Exact, except a latency within the relative error of a bound may count either side."""
    sketch = LatencySketch()
    for ns in values:
        sketch.add(ns)
    buckets = sketch.digest().buckets()
    assert buckets.bounds == LATENCY_BOUNDS
    assert buckets.count == len(values)
    for bound, counted in zip(LATENCY_BOUNDS, buckets.cumulative, strict=False):
        surely = sum(ns / 1e9 <= bound * (1 - RELATIVE_ERROR) for ns in values)
        maybe = sum(ns / 1e9 <= bound * (1 + RELATIVE_ERROR) for ns in values)
        assert surely <= counted <= maybe


def test_parts_record_total_queued_and_handling() -> None:
    parts = LatencyParts()
    parts.record(3_000_000, 1_000_000)
    total, queued, handling = (sketch.digest() for sketch in parts.parts())
    assert [
        math.isclose(d.max, s, rel_tol=RELATIVE_ERROR)
        for d, s in ((total, 0.004), (queued, 0.003), (handling, 0.001))
    ] == [True, True, True]
    assert math.isclose(total.sum, queued.sum + handling.sum)


@pytest.mark.parametrize("q", [-0.1, 1.5])
def test_a_quantile_outside_0_to_1_is_refused(q: float) -> None:
    sketch = LatencySketch()
    sketch.add(1)
    with pytest.raises(ValueError, match="between 0 and 1"):
        sketch.digest().quantile(q)


def test_a_negative_latency_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot be negative"):
        LatencySketch().add(-1)
