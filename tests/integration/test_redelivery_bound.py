"""SIGKILL with mixed priorities: what a restart delivers again stays within the window.

A low-priority event waiting in an agent's queue holds its source's checkpoint back
(acks are in order). The source's window stops reading ``window.high`` lines past it,
so each crash re-delivers at most ``window.high + checkpoint_every`` lines.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest

from reagents import AgentEvent, encode_event

pytestmark = pytest.mark.integration

EVENTS = 6000
KILLS = 3
HANDLED_BEFORE_KILL = 1200
WINDOW = 300
CHECKPOINT_EVERY = 50

SCRIPT = textwrap.dedent(
    """
    import asyncio
    import os
    import sys
    from pathlib import Path

    from reagents import Agent, AgentEvent, FileSource, Pipeline, Watermarks


    async def main(input_path: Path, processed_path: Path) -> None:
        fd = os.open(processed_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

        async def record(event: AgentEvent) -> None:
            await asyncio.sleep(0.0005)
            os.write(fd, (event.event_id + "\\n").encode())

        source = FileSource(
            input_path,
            start="checkpoint",
            checkpoint_every={every},
            window=Watermarks(high={window}, low={low}),
        )
        pipeline = Pipeline(
            "crash",
            sources=[source],
            agents=[Agent(record, id="recorder", max_concurrent=4)],
            dead_letters=input_path.with_name("dead_letters.jsonl"),
        )
        await pipeline.run()


    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
    """
).format(every=CHECKPOINT_EVERY, window=WINDOW, low=WINDOW // 2)


def handled(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


def test_mixed_priorities_redeliver_at_most_the_window_per_crash(tmp_path: Path) -> None:
    rng = random.Random(11)
    events = [
        AgentEvent(event_type="tick", payload={"n": n}, priority=rng.randint(1, 10))
        for n in range(EVENTS)
    ]
    input_path, processed = tmp_path / "events.jsonl", tmp_path / "processed.txt"
    input_path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    script = tmp_path / "crash.py"
    script.write_text(SCRIPT)
    command = [sys.executable, str(script), str(input_path), str(processed)]

    for _ in range(KILLS):
        target = len(handled(processed)) + HANDLED_BEFORE_KILL
        process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while len(handled(processed)) < target:
                assert process.poll() is None, "the run ended before the kill"
                assert time.monotonic() < deadline, "too slow to reach the kill point"
                time.sleep(0.002)
            os.kill(process.pid, signal.SIGKILL)
        finally:
            process.wait(timeout=10)
    subprocess.run(command, check=True, stderr=subprocess.DEVNULL, timeout=60)

    counts = Counter(handled(processed))
    assert set(counts) == {e.event_id for e in events}  # nothing lost
    duplicates = sum(counts.values()) - EVENTS
    # Without the window, each crash re-delivered everything handled since the oldest
    # waiting low-priority event: about all of the 1,200 handled before it.
    assert duplicates <= KILLS * (WINDOW + CHECKPOINT_EVERY)
