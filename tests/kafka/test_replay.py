"""``replay --kafka``: a topic from an offset into a JSONL file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from reagents.cli_kafka import replay_from_kafka
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
