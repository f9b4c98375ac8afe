"""SIGKILL with a window open, over Kafka: the open window's records come again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from reagents.kafka import KafkaConfig
from tests.integration.test_window_crash import (
    PER_WINDOW,
    kill_when_ready,
    windowed_events,
    windows_in,
)
from tests.kafka.conftest import create_topic, produce

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.kafka
@pytest.mark.integration
async def test_a_killed_kafka_pipeline_redelivers_the_open_windows_records(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    config = KafkaConfig(bootstrap_servers=kafka_bootstrap)
    topic = await create_topic(config, f"windows_{tmp_path.name[-8:]}", partitions=1)
    await produce(config, topic, windowed_events())
    out = tmp_path / "windows.jsonl"
    worker = [
        sys.executable,
        "-m",
        "tests.integration.window_worker",
        "kafka",
        kafka_bootstrap,
        topic,
        str(out),
    ]
    committed = kill_when_ready([*worker, "--ready-when", str(PER_WINDOW)], out, tmp_path / "e")
    first, second = list(range(PER_WINDOW)), list(range(PER_WINDOW, 2 * PER_WINDOW))
    assert windows_in(out) == [first]
    assert committed == {f"{topic}[0]": PER_WINDOW}

    completed = subprocess.run(
        [*worker, "--idle", "3"], cwd=ROOT, capture_output=True, timeout=90, check=False
    )
    assert completed.returncode == 0, completed.stderr.decode()[-3000:]
    assert windows_in(out) == [first, second]
