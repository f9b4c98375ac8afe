"""SIGKILL with a window open: its records were never checkpointed, so they come again.

Events carry timestamps in two 10-second windows of event time. The first window
closes (the first event of the second moves the watermark past its end), is handled,
and its records are checkpointed; the second stays open (the file is followed, no later
event comes). The process is killed there. On restart, exactly the second window's
records are delivered again, and the window is handled whole.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reagents import AgentEvent, encode_event
from reagents.sources.file import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
PER_WINDOW = 40
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def windowed_events() -> list[AgentEvent]:
    """``PER_WINDOW`` events in [T0, T0+10 s), then as many in [T0+10 s, T0+20 s)."""
    step = 9.0 / PER_WINDOW
    return [
        AgentEvent(
            event_type="tick",
            payload={"n": n},
            timestamp=T0 + timedelta(seconds=(n // PER_WINDOW) * 10 + (n % PER_WINDOW) * step),
        )
        for n in range(2 * PER_WINDOW)
    ]


def windows_in(out: Path) -> list[list[int]]:
    return [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


def kill_when_ready(command: list[str], out: Path, stderr_path: Path) -> dict[str, int]:
    """Start ``command``, wait for ``OUT.ready``, SIGKILL it; return what it committed."""
    ready = out.with_suffix(".ready")
    with open(stderr_path, "ab") as stderr:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            if process.poll() is not None:
                pytest.fail(f"ended early (rc={process.returncode}): {stderr_path.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"not ready within 60 s: {stderr_path.read_text()[-3000:]}")
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL
    committed: dict[str, int] = json.loads(ready.read_text())
    return committed


def test_a_killed_file_pipeline_redelivers_the_open_windows_records(tmp_path: Path) -> None:
    events = windowed_events()
    log = tmp_path / "ticks.jsonl"
    log.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    out = tmp_path / "windows.jsonl"
    worker = [sys.executable, "-m", "tests.integration.window_worker", "file", str(log), str(out)]

    kill_when_ready([*worker, "--follow", "--ready-when", str(PER_WINDOW)], out, tmp_path / "e")
    first, second = list(range(PER_WINDOW)), list(range(PER_WINDOW, 2 * PER_WINDOW))
    assert windows_in(out) == [first]  # the open window was never handled...
    checkpoint = read_checkpoint(log.with_name(log.name + ".checkpoint"))
    assert checkpoint is not None
    assert checkpoint.line == PER_WINDOW  # ...so the checkpoint stops at its first record

    # Restart without follow: the end of the file closes the window.
    completed = subprocess.run(worker, cwd=ROOT, capture_output=True, timeout=60, check=False)
    assert completed.returncode == 0, completed.stderr.decode()[-3000:]
    assert windows_in(out) == [first, second]
    final = read_checkpoint(log.with_name(log.name + ".checkpoint"))
    assert final is not None
    assert final.line == 2 * PER_WINDOW
