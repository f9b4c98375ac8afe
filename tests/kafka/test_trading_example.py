"""The trading example over Kafka gives the same session as over the file."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from reagents.kafka import KafkaConfig
from tests.examples import EXAMPLES

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]


async def test_trading_over_kafka_matches_the_file_run(
    kafka_config: KafkaConfig, tmp_path: Path
) -> None:
    command = [
        sys.executable,
        str(EXAMPLES / "trading.py"),
        "--out",
        str(tmp_path / "kafka"),
        "--kafka-bootstrap",
        kafka_config.bootstrap_servers,
    ]
    baseline = [sys.executable, str(EXAMPLES / "trading.py"), "--out", str(tmp_path / "file")]
    over_kafka, from_file = await asyncio.gather(
        asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=240),
        asyncio.to_thread(subprocess.run, baseline, capture_output=True, text=True, timeout=240),
    )
    assert over_kafka.returncode == 0, over_kafka.stderr
    assert from_file.returncode == 0, from_file.stderr

    def signals(folder: str) -> Counter[str]:
        lines = (tmp_path / folder / "signals.jsonl").read_text().splitlines()
        return Counter(json.loads(line)["event_type"] for line in lines)

    assert signals("kafka") == signals("file")
    assert signals("kafka")["trade_signal"] > 0
    assert "events in" in over_kafka.stdout
