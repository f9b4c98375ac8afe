"""Exit codes of every ``reagents`` command: bad input is one red line and code 2, an
unreachable server is a failure (1), whatever the command and whoever noticed it
(click parsing the options, or the command itself)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from reagents.cli import RUNTIME, USAGE, app
from reagents.cli.console import friendly
from reagents.kafka.config import KafkaUnavailableError


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args])


def assert_one_red_line(result: Result, code: int, *fragments: str) -> None:
    assert result.exit_code == code, result.output
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--bogus",), "No such option: --bogus"),
        (("topics",), "No such command 'topics'"),
        (("run", "app.py", "--bogus"), "No such option: --bogus"),
        (("replay", "log.jsonl", "--speed", "fast"), "'--speed'"),
        (("graph", "app.py", "--format", "bogus"), "'bogus' is not one of"),
        (("asyncapi", "app.py", "--format", "bogus"), "'bogus' is not one of"),
        (("dlq", "list", "--stage", "nope", "dead.jsonl"), "'--stage'"),
        (("dlq", "show", "dead.jsonl"), "Missing argument 'ID'"),
        (("dlq", "replay", "dead.jsonl"), "Missing option '--pipeline'"),
        (("serve", "app.py", "--port", "99999"), "'--port'"),
        (("broker", "--port", "many"), "'--port'"),
        (("kafka", "replay"), "Missing argument 'topic'"),
    ],
)
def test_a_usage_error_of_any_command_is_one_red_line(args: tuple[str, ...], fragment: str) -> None:
    result = invoke(*args)
    assert_one_red_line(result, USAGE, fragment)
    assert "--help" in result.stderr  # where to look


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("broker", "--port", "99999"), "--port must be 0..65535, got 99999"),
        (("kafka", "replay", "t", "--from-offset", "-1", "--out", "x.jsonl"), "--from-offset"),
        (("kafka", "replay", "t", "--out", "x.jsonl", "-p", "app.py"), "exactly one of"),
        (("replay", "--kafka", "t", "--from-offset", "-1", "--out", "x.jsonl"), "--from-offset"),
        (("replay", "--kafka", "t", "--from-time", "May 1st", "--out", "x"), "ISO-8601"),
        (("kafka", "replay", "t", "--out", "x.jsonl", "-b", "host:port"), "not host:port"),
        (("dlq", "list", "--kafka", "t", "-b", "127.0.0.1:0"), "not host:port"),
    ],
)
def test_bad_values_noticed_by_a_command_are_one_red_line(
    args: tuple[str, ...], fragment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert_one_red_line(invoke(*args), USAGE, fragment)
    assert not (tmp_path / "x.jsonl").exists()


def test_a_command_without_arguments_still_shows_its_help() -> None:
    for args in ((), ("dlq",), ("kafka",)):
        result = invoke(*args)
        assert result.exit_code == USAGE
        assert "Usage" in result.output


def test_an_unreachable_kafka_is_a_failure_not_bad_input() -> None:
    @friendly
    def command() -> None:
        raise KafkaUnavailableError("cannot reach Kafka at 127.0.0.1:1")

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == RUNTIME
