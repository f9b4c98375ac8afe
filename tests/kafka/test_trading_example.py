"""The trading example over Kafka gives the same session as over the file, byte for byte."""

from __future__ import annotations

import asyncio
import subprocess
import sys
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

    def lines(folder: str, name: str) -> list[str]:
        return (tmp_path / folder / name).read_text().splitlines()

    # The windows reach the trader in the same order; the event ids are made from
    # content, so every output is the same line. The signals file's line order may
    # differ: its sink handles the most urgent output first among those waiting.
    assert lines("kafka", "vwap.jsonl") == lines("file", "vwap.jsonl")
    assert sorted(lines("kafka", "signals.jsonl")) == sorted(lines("file", "signals.jsonl"))
    assert any('"trade_signal"' in line for line in lines("kafka", "signals.jsonl"))
    assert any('"alert_digest"' in line for line in lines("kafka", "signals.jsonl"))
    assert "events in" in over_kafka.stdout
