"""``replay --kafka``: a topic from an offset into a JSONL file."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from reagents.cli.kafka import replay_from_kafka
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
