"""Consumer groups across processes: partitions are split, a killed process loses nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reagents.kafka import KafkaConfig
from tests.kafka.conftest import create_topic, numbered, produce

pytestmark = [pytest.mark.kafka, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def start_worker(
    config: KafkaConfig, topic: str, group: str, out: Path, delay: float = 0.0
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.kafka.worker", config.bootstrap_servers, topic, group]
    command += [str(out), "--delay", str(delay), "--idle", "3"]
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    with open(out.with_suffix(".log"), "ab") as log:
        return subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)


def ids_in(*files: Path) -> list[str]:
    return [line for f in files if f.exists() for line in f.read_text().splitlines() if line]


async def finish(process: subprocess.Popen[bytes], out: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
    err = out.with_suffix(".log").read_text()
    assert process.returncode == 0, err
    return err


async def test_two_processes_in_one_group_split_the_partitions(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=4)
    events = numbered(2000, conversations=64)
    await produce(kafka_config, topic, events)
    outs = [tmp_path / "a.ids", tmp_path / "b.ids"]
    workers = [start_worker(kafka_config, topic, topic_name, out, delay=0.001) for out in outs]
    reports = [await finish(w, out) for w, out in zip(workers, outs, strict=True)]

    seen = ids_in(*outs)
    assert set(seen) == {e.event_id for e in events}
    assert all(ids_in(out) for out in outs), reports  # both processes did some of the work
    assigned = [r.split("assigned=")[1].split(" consumed")[0] for r in reports]
    assert all(a != "[]" for a in assigned), reports


async def test_a_consumer_killed_mid_stream_loses_no_event(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=4)
    events = numbered(2000, conversations=64)
    await produce(kafka_config, topic, events)
    first, second = tmp_path / "first.ids", tmp_path / "second.ids"

    victim = start_worker(kafka_config, topic, topic_name, first, delay=0.002)
    deadline = time.monotonic() + 30
    while len(ids_in(first)) < 300 and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    handled_before_kill = len(ids_in(first))
    assert 300 <= handled_before_kill < len(events)

    await finish(start_worker(kafka_config, topic, topic_name, second), second)
    assert set(ids_in(first, second)) == {e.event_id for e in events}
    # the restart resumed from the committed offsets, not from the beginning
    assert len(ids_in(second)) < len(events)
