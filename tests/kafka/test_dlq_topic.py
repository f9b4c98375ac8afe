"""``reagents dlq list/replay --kafka``: the topic a `KafkaDeadLetterSink` writes."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reagents.cli import app
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, decode_event
from reagents.kafka import KafkaConfig
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from tests.kafka.conftest import create_topic, numbered, produce

pytestmark = [pytest.mark.kafka, pytest.mark.integration]


async def invoke(*args: str | Path) -> Result:
    """The CLI in a thread (it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, [str(a) for a in args])


async def write_letters(config: KafkaConfig, topic: str) -> list[DeadLetter]:
    """Two agent failures and a decode failure, written by the real sink."""
    letters = [
        DeadLetter.from_error(
            FailureStage.AGENT,
            ValueError(f"cannot ship order {n}"),
            event=AgentEvent(event_type="order", payload={"n": n}),
            origin=f"orders[{n}]@{100 + n}",
            agent_id="shipper",
        )
        for n in range(2)
    ]
    letters.append(
        DeadLetter.from_error(
            FailureStage.DECODE, ValueError("not json"), raw=b"{oops", origin="orders[0]@7"
        )
    )
    sink = KafkaDeadLetterSink(topic, config=config)
    for letter in letters:
        sink.write(letter)
    await sink.aclose()
    return letters


async def test_dlq_list_reads_a_dead_letter_topic(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    letters = await write_letters(kafka_config, topic)
    bootstrap = kafka_config.bootstrap_servers

    result = await invoke("dlq", "list", "--kafka", topic, "-b", bootstrap, "--idle", "1")
    assert result.exit_code == 0, result.output
    assert f"3 dead letters in Kafka topic '{topic}'" in result.stdout
    for letter in letters:
        row = next(line for line in result.stdout.splitlines() if letter.dead_letter_id[:8] in line)
        assert str(letter.origin) in row
        assert letter.stage.value in row
    agent_only = await invoke(
        "dlq", "list", "--kafka", topic, "-b", bootstrap, "--idle", "1", "--stage", "agent"
    )
    assert "2 dead letters" in agent_only.stdout


async def test_dlq_list_refuses_an_event_topic_and_a_missing_one(
    kafka_config: KafkaConfig, topic_name: str
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=1)
    await produce(kafka_config, topic, numbered(20))
    bootstrap = kafka_config.bootstrap_servers

    events = await invoke("dlq", "list", "--kafka", topic, "-b", bootstrap, "--idle", "1")
    assert events.exit_code == 2, events.output
    assert events.stderr.strip().splitlines() == [
        f"error: Kafka topic '{topic}' is not a dead-letter log: it holds events (replay an "
        "event log with `reagents replay`)"
    ]
    missing = await invoke("dlq", "list", "--kafka", f"{topic}_nope", "-b", bootstrap)
    assert missing.exit_code == 2, missing.output
    assert "does not exist" in missing.stderr


async def test_dlq_replay_from_a_dead_letter_topic(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    topic = await create_topic(kafka_config, topic_name, partitions=2)
    await write_letters(kafka_config, topic)
    app_file = tmp_path / "app.py"
    app_file.write_text(
        textwrap.dedent(
            f"""\
            from reagents import Pipeline
            from reagents.sinks.file import FileSink

            def ship(event):
                return event.derive("shipped", event.payload)

            def build_pipeline():
                p = Pipeline("shipping", dead_letters={str(tmp_path / "dead.jsonl")!r})
                p.add_sink(FileSink({str(tmp_path / "out.jsonl")!r}))
                p.agent(subscription="type = order")(ship)
                return p
            """
        )
    )
    result = await invoke(
        "dlq", "replay", "--kafka", topic, "-b", kafka_config.bootstrap_servers,
        "--idle", "1", "-p", app_file, "--stage", "agent",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "ingested 2 · emitted 2 · dead letters 0" in result.stdout
    shipped = [decode_event(line) for line in (tmp_path / "out.jsonl").read_bytes().splitlines()]
    assert sorted(e.payload["n"] for e in shipped if e.event_type == "shipped") == [0, 1]
