"""``python examples/trading.py`` runs as a script and prints its summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples import run_example

pytestmark = pytest.mark.integration

LABELS = (
    "events in",
    "quotes in → vwap handler calls",
    "VWAP windows",
    "trade signals out",
    "positions closed",
    "windows skipped while halted",
    "alerts in → alert digests",
    "dead letters",
)


def test_trading_script_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("trading", "--out", str(out), cwd=tmp_path)
    tables, _ = stdout.split("signals:")
    summary, stats = tables.split("Agents and sinks")
    for label in LABELS:
        assert label in summary
    assert max(len(line.rstrip()) for line in tables.splitlines()) <= 80
    assert "sink:signals" in stats
    assert "alert_digest" in stats
    for name in ("signals.jsonl", "vwap.jsonl"):
        assert len((out / name).read_text().splitlines()) > 0
    assert not (out / "dead_letters.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing else in the cwd
