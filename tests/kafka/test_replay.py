"""``replay --kafka``: a topic from an offset into a JSONL file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reagents.cli.kafka import replay_from_kafka, start_position
from reagents.events import decode_event
from reagents.kafka import KafkaConfig
from tests.kafka.conftest import create_topic, numbered, produce

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def test_a_topic_replays_from_an_offset_into_a_jsonl_file(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    await produce(kafka_config, topic, numbered(50))
    out = tmp_path / "replayed.jsonl"

    await asyncio.to_thread(
        replay_from_kafka,
        topic,
        out=out,
        bootstrap=kafka_config.bootstrap_servers,
        start=30,
        idle=1.0,
        progress=False,
    )
    replayed = [decode_event(line) for line in out.read_bytes().splitlines()]
    assert [e.payload["n"] for e in replayed] == list(range(30, 50))


async def replay_from_time(config: KafkaConfig, topic: str, when: datetime, out: Path) -> list[int]:
    """``payload.n`` of what ``--from-time when`` replays from ``topic``."""
    start = start_position(None, when.isoformat())
    await asyncio.to_thread(
        replay_from_kafka,
        topic,
        out=out,
        bootstrap=config.bootstrap_servers,
        start=start,
        idle=1.0,
        progress=False,
    )
    return [decode_event(line).payload["n"] for line in out.read_bytes().splitlines()]


async def test_a_time_after_the_last_record_replays_nothing(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    await produce(kafka_config, topic, numbered(50))
    await asyncio.sleep(0.05)  # the record times are all before now
    now = datetime.now(UTC)

    assert await replay_from_time(kafka_config, topic, now, tmp_path / "now.jsonl") == []
    later = now + timedelta(hours=1)  # the broker finds no offset that late at all
    assert await replay_from_time(kafka_config, topic, later, tmp_path / "later.jsonl") == []


async def test_a_time_between_two_records_replays_from_the_later_one(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    events = numbered(40)
    await produce(kafka_config, topic, events[:25])
    await asyncio.sleep(0.05)
    middle = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await produce(kafka_config, topic, events[25:])

    replayed = await replay_from_time(kafka_config, topic, middle, tmp_path / "replayed.jsonl")
    assert replayed == list(range(25, 40))


async def test_the_replay_command_reads_a_topic_into_a_pipeline(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    await produce(kafka_config, topic, numbered(40))
    out = tmp_path / "seen.jsonl"
    app_file = tmp_path / "app.py"
    app_file.write_text(
        "from pathlib import Path\n"
        "from reagents import FileSink, MemoryDeadLetters, Pipeline\n"
        "def build_pipeline():\n"
        "    p = Pipeline('replayed', dead_letters=MemoryDeadLetters())\n"
        f"    p.add_sink(FileSink(Path({str(out)!r}), 'type = tick'))\n"
        "    return p\n"
    )
    command = [
        sys.executable,
        "-m",
        "reagents.cli",
        "replay",
        "--kafka",
        topic,
        "--from-time",
        "2000-01-01T00:00Z",
        "-p",
        str(app_file),
        "-b",
        kafka_config.bootstrap_servers,
        "--no-progress",
    ]
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=90
    )
    assert done.returncode == 0, done.stderr
    assert "ingested 40" in done.stdout
    seen = sorted(decode_event(line).payload["n"] for line in out.read_bytes().splitlines())
    assert seen == list(range(40))
