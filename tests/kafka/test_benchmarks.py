"""`benchmarks/kafka_bench.py` end to end on the test broker: a smoke test, not a speed test.

A few hundred events, one round, both workloads, the three consumers of `make
bench-kafka` each in its own process: every run must be exact (records seen, handler
calls, committed offsets read back) and the tables must fit 80 columns.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "kafka_bench.py"


def test_kafka_bench_runs_both_workloads_exactly_within_80_columns(kafka_bootstrap: str) -> None:
    argv = ["--events", "1200", "--partitions", "2", "--rounds", "1", "--session-ms", "2000"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--bootstrap", kafka_bootstrap],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert max(len(line) for line in out.splitlines()) <= 80, out
    assert "300 events (25.0%), where() and the hand-written predicate agree" in out
    assert "25% match: 1,200 records, rounds: 1" in out
    assert "all match: 1,200 records, rounds: 1" in out
    for label in ("raw orjson (ceiling)", "raw stdlib json", "reagents"):
        rows = [line for line in out.splitlines() if f"│ {label} " in line]
        assert len(rows) == 2, out  # one per workload, none marked inexact
    assert "ERROR" not in out
    assert "Every run exact" in out
