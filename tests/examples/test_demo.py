"""``python examples/trading.py`` runs as a script and prints its summary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "trading.py"


def test_trading_script_prints_the_summary(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for label in ("events in", "trade signals out", "positions closed", "dead letters"):
        assert label in done.stdout
    assert "Agents and sinks" in done.stdout
    assert "sink:signals" in done.stdout
    lines = (out / "signals.jsonl").read_text().splitlines()
    assert len(lines) > 0
    assert not (out / "dead_letters.jsonl").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing else in the cwd
