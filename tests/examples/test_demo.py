"""``python examples/trading.py`` runs as a script and prints its summary."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.examples import run_example

pytestmark = pytest.mark.integration


def test_trading_script_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    stdout = run_example("trading", "--out", str(out), cwd=tmp_path)
    for label in ("events in", "trade signals out", "positions closed", "dead letters"):
        assert label in stdout
    assert "Agents and sinks" in stdout
    assert "sink:signals" in stdout
    lines = (out / "signals.jsonl").read_text().splitlines()
    assert len(lines) > 0
    assert not (out / "dead_letters.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing else in the cwd
