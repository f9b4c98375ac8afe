"""Kafka settings, topic naming and replay options: no broker needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import typer
from typer.testing import CliRunner

from reagents.cli import app
from reagents.cli.kafka import start_position
from reagents.errors import ConfigurationError
from reagents.kafka import BOOTSTRAP_ENV, KafkaConfig, TopicNaming, resolve_bootstrap
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sources.kafka import KafkaSource


def test_bootstrap_comes_from_the_argument_else_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BOOTSTRAP_ENV, "env:9092")
    assert resolve_bootstrap() == "env:9092"
    assert resolve_bootstrap("arg:9092") == "arg:9092"
    assert KafkaConfig().bootstrap_servers == "env:9092"
    monkeypatch.delenv(BOOTSTRAP_ENV)
    with pytest.raises(ConfigurationError, match=BOOTSTRAP_ENV):
        resolve_bootstrap()


def test_the_heartbeat_must_be_shorter_than_the_session() -> None:
    with pytest.raises(ValueError, match="heartbeat_interval_ms"):
        KafkaConfig(bootstrap_servers="x:1", session_timeout_ms=1000, heartbeat_interval_ms=1000)


def test_consumers_never_auto_commit() -> None:
    assert KafkaConfig(bootstrap_servers="x:1").consumer_options()["enable_auto_commit"] is False


def test_topics_are_named_per_agent_with_one_dead_letter_topic() -> None:
    naming = TopicNaming(prefix="shop")
    assert naming.agent("payments") == "shop_payments"
    assert naming.agent("sink:audit") == "shop_sink.audit"
    assert naming.dead_letters == "shop_dlq"
    with pytest.raises(ValueError, match="may only hold"):
        TopicNaming(prefix="bad prefix")


def test_a_source_needs_topics_or_a_pattern_and_a_valid_start() -> None:
    with pytest.raises(ConfigurationError, match="either topics or a pattern"):
        KafkaSource(group_id="g", bootstrap="x:1")
    with pytest.raises(ConfigurationError, match="start must be"):
        KafkaSource("t", group_id="g", bootstrap="x:1", start="yesterday")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="pattern needs a group_id"):
        KafkaSource(group_id=None, pattern="t.*", bootstrap="x:1")


def test_replay_starts_at_an_offset_a_time_or_the_beginning() -> None:
    assert start_position(None, None) == "earliest"
    assert start_position(42, None) == 42
    assert start_position(None, "2024-05-01T12:00") == datetime(2024, 5, 1, 12, tzinfo=UTC)
    with pytest.raises(typer.BadParameter, match="not both"):
        start_position(1, "2024-05-01")
    with pytest.raises(typer.BadParameter, match="ISO-8601"):
        start_position(None, "May 1st")


def test_a_kafka_dead_letter_sink_names_its_topic() -> None:
    sink = KafkaDeadLetterSink("orders_dlq", bootstrap="127.0.0.1:9")
    assert sink.describe() == "Kafka topic 'orders_dlq'"


@pytest.mark.parametrize("command", [("kafka", "replay"), ("replay",)])
def test_from_time_help_says_it_is_the_record_time_not_the_event_timestamp(
    command: tuple[str, ...],
) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.replace("│", " ").split())
    assert "Start at this record time" in text
    assert "not the event's own timestamp field" in text.replace("`", "")
