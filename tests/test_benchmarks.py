"""The benchmarks run, print every column within 80 columns, and check their own work.

Smoke tests with a few hundred events and one round: nothing here looks at speed.
The Kafka benchmark's own smoke test is `tests/kafka/test_benchmarks.py` (it needs the
broker); here are the parts that need none: the 25% subscription, the exactness checks,
the per-process peak RSS, and the in-process benchmark end to end.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from reagents import where

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def run_script(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """A benchmark script run as `make bench` runs it (its folder first on sys.path)."""
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "COLUMNS": "200"},  # a wide terminal: the script keeps to 80
    )


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


@pytest.fixture
def benchmarks_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Imports from benchmarks/ (as the scripts do), undone after the test."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))


def test_run_py_shows_throughput_and_latency_columns_within_80_columns() -> None:
    done = run_script(str(BENCHMARKS / "run.py"), "--events", "600", "--rounds", "1")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no log line (the batching variants stay within watermarks)
    out = done.stdout
    assert widest(out) <= 80, out
    assert "p50 min/med/max" in out
    assert "p99 min/med/max" in out
    latency = out[out.index("latency, ms") : out.index("handing a delivery")]
    for label in ("hand loop (ceiling)", "no flow", "where→map", "where→batch(1s)"):
        [row] = [line for line in latency.splitlines() if label in line]
        assert len(re.findall(r"\d+(?:\.\d+)?/\d+(?:\.\d+)?/\d+(?:\.\d+)?", row)) == 2, row


@pytest.mark.usefixtures("benchmarks_on_path")
def test_the_25_percent_subscription_matches_a_quarter_both_ways() -> None:
    common = importlib.import_module("kafka_common")
    workload = importlib.import_module("workload")
    events = workload.make_events(1_200)
    ours = where(common.MATCH_25).predicate
    matched = [ours(event) for event in events]
    assert sum(matched) == 300
    by_hand = [common.match_25_dict(event.model_dump(mode="json")) for event in events]
    assert by_hand == matched
    assert not common.match_25_dict({"event_type": "market_data"})  # missing field: no match
    assert not common.match_25_dict([1, 2])


@pytest.mark.usefixtures("benchmarks_on_path")
def test_a_run_is_exact_only_with_every_record_seen_handled_and_committed() -> None:
    report = importlib.import_module("kafka_report")
    good = report.Run("orjson", "match25", 1, seen=1_200, handled=300, seconds=1.0)
    good.committed = 1_200
    good.check(1_200, 300)
    assert good.problems == []
    short = report.Run("reagents", "match25", 1, seen=1_200, handled=299, seconds=2.0)
    short.committed = 1_100
    short.dead_letters = 1
    short.check(1_200, 300)
    assert short.problems == [
        "handled 299, expected 300",
        "committed offsets add up to 1,100, not 1,200",
        "1 dead letters",
    ]
    console = Console(width=80, record=True, file=io.StringIO())
    assert not report.report(console, [good, short], ["match25"], ["orjson", "reagents"], 1_200)
    text = console.export_text()
    assert "✗ reagents" in text
    assert "ERROR round 1, match25, reagents: handled 299" in text
    assert "0.50/0.50/0.50" in text  # reagents at half the ceiling's rate of the round


@pytest.mark.usefixtures("benchmarks_on_path")
def test_a_child_reports_its_own_peak_rss_not_the_parents() -> None:
    ballast = bytearray(64 * 1024 * 1024)
    ballast[::4096] = b"\1" * len(ballast[::4096])  # touched: resident
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    code = "import kafka_common; print(kafka_common.peak_rss_kib())"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=BENCHMARKS, capture_output=True, text=True, check=True
    )
    assert int(done.stdout) < parent - 60 * 1024  # ru_maxrss would start at the parent's
    del ballast


def test_kafka_bench_refuses_peers_without_their_python() -> None:
    done = run_script(
        str(BENCHMARKS / "kafka_bench.py"), "--peers", "--peers-python", "/nonexistent/python"
    )
    assert done.returncode == 2
    assert "--peers: no /nonexistent/python (make bench-peers makes it)" in done.stderr
