"""``reagents dlq``: the origin column in 80 columns, refusing what is not a dead-letter
log in one line, and replayed letters marked resolved (at-least-once)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from reagents.cli import DEAD_LETTERS, app
from reagents.cli.dlq_logs import mark_resolved, resolved_ids, resolved_path
from reagents.dead_letter import DeadLetter, FailureStage
from tests import test_cli
from tests.test_cli import assert_one_line_error, lines, write_events

# the fixtures of the CLI tests (a runner, a pipeline file, a dead-letter log it wrote)
cli = test_cli.cli
runnable = test_cli.runnable
agents_only = test_cli.agents_only
dead_letters = test_cli.dead_letters

ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG_ORIGIN = "/var/spool/reagents/sessions/2024-05-01/market_session.jsonl:12345"


def letter(n: int, origin: str | None, agent: str | None = None) -> DeadLetter:
    return DeadLetter.from_error(
        FailureStage.AGENT if agent else FailureStage.DECODE,
        ValueError(f"failure {n}: " + "a long explanation of what went wrong " * 4),
        raw=b"?",
        origin=origin,
        agent_id=agent,
    )


def write_letters(path: Path, letters: list[DeadLetter]) -> Path:
    path.write_bytes(b"".join(x.to_json() + b"\n" for x in letters))
    return path


def terminal_lines(result: Result) -> list[str]:
    return [ANSI.sub("", line) for line in result.stdout.splitlines()]


def test_dlq_list_has_an_origin_column_and_fits_80_columns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    letters = [
        letter(1, LONG_ORIGIN, agent="a_rather_long_agent_identifier"),
        letter(2, "orders[3]@1045"),
        letter(3, None, agent="trader"),
    ]
    write_letters(tmp_path / "dead.jsonl", letters)
    monkeypatch.chdir(tmp_path)
    # a terminal 80 columns wide (FORCE_COLOR makes rich treat the output as one)
    env = {"COLUMNS": "80", "FORCE_COLOR": "1"}
    result = CliRunner().invoke(app, ["dlq", "list", "dead.jsonl"], env=env)
    assert result.exit_code == 0, result.output
    shown = terminal_lines(result)
    assert all(len(line) <= 80 for line in shown), shown
    assert "origin" in next(line for line in shown if line.lstrip().startswith("id"))
    rows = {x.dead_letter_id[:8]: [r for r in shown if x.dead_letter_id[:8] in r] for x in letters}
    assert all(len(found) == 1 for found in rows.values()), shown  # one line per letter
    first, second, third = (rows[x.dead_letter_id[:8]][0] for x in letters)
    assert "…" + LONG_ORIGIN[-15:] in first  # cut from the left: the line number stays
    assert "orders[3]@1045" in second
    assert " - " in third  # no origin known
    assert "ValueError: failure 1" in first


def test_dlq_list_refuses_an_event_log_in_one_line(tmp_path: Path) -> None:
    events = write_events(tmp_path / "market.jsonl", count=500, bad_line=False)
    done = subprocess.run(
        [sys.executable, "-m", "reagents.cli", "dlq", "list", str(events)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {events} is not a dead-letter log: it holds events (replay an event log "
        "with `reagents replay`)"
    ]


def test_dlq_commands_refuse_a_file_of_something_else(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    other = tmp_path / "other.jsonl"
    other.write_text('{"a": 1}\n{"b": 2}\n')
    for command in (("list",), ("show",), ("replay", "-p", "app.py")):
        args = (other, "abc") if command == ("show",) else (other,)
        assert_one_line_error(
            cli("dlq", *command, *args), 2, "is not a dead-letter log", "other.jsonl:1"
        )


def test_dlq_list_skips_a_torn_line_with_one_note(
    cli: Callable[..., Result], tmp_path: Path
) -> None:
    path = write_letters(tmp_path / "dead.jsonl", [letter(1, "a:1"), letter(2, "a:2")])
    with open(path, "ab") as file:
        file.write(b'{"dead_letter_id": "torn')  # a crash in the middle of a write
    result = cli("dlq", "list", path)
    assert result.exit_code == 0, result.output
    assert "2 dead letters" in result.stdout
    assert result.stderr.count("\n") == 1
    assert "skipped 1 records that are not dead letters (first: " in result.stderr
    assert "dead.jsonl:3" in result.stderr


def test_dlq_list_needs_a_file_or_a_topic(cli: Callable[..., Result], tmp_path: Path) -> None:
    assert_one_line_error(cli("dlq", "list"), 2, "give a dead-letter FILE or --kafka TOPIC")
    both = cli("dlq", "list", tmp_path / "x.jsonl", "--kafka", "t", "-b", "127.0.0.1:9")
    assert_one_line_error(both, 2, "exactly one")


# ---------------------------------------------------------------------------- resolve


def test_replay_resolve_marks_the_letters_and_list_hides_them(
    cli: Callable[..., Result], dead_letters: Path, agents_only: Path
) -> None:
    (agents_only.parent / "fixed").touch()  # the agent no longer fails on poison
    agent_id = next(d["dead_letter_id"] for d in lines(dead_letters) if d["stage"] == "agent")
    before = dead_letters.read_bytes()
    result = cli("dlq", "replay", dead_letters, "-p", agents_only, "--stage", "agent", "--resolve")
    assert result.exit_code == 0, result.output
    assert "1 dead letters marked resolved in" in result.stderr
    assert resolved_ids(dead_letters) == {agent_id}
    assert dead_letters.read_bytes() == before  # the log itself is never rewritten

    listed = cli("dlq", "list", dead_letters)
    assert "1 dead letters in" in listed.stdout
    assert "1 resolved hidden" in listed.stdout
    assert agent_id[:8] not in listed.stdout
    assert agent_id[:8] in cli("dlq", "list", dead_letters, "--all").stdout
    again = cli("dlq", "replay", dead_letters, "-p", agents_only, "--stage", "agent")
    assert "nothing to replay" in again.stderr
    shipped = [d for d in lines(agents_only.parent / "out.jsonl") if d["payload"] == {"n": 3}]
    assert len(shipped) == 1  # replayed once


def test_replay_resolve_marks_nothing_when_a_letter_fails_again(
    cli: Callable[..., Result], dead_letters: Path, agents_only: Path
) -> None:
    result = cli("dlq", "replay", dead_letters, "-p", agents_only, "--resolve")
    assert result.exit_code == DEAD_LETTERS, result.output
    assert "nothing marked resolved: 2 failed again" in result.stderr
    assert not resolved_path(dead_letters).exists()
    # the originals stay, next to the new failures (the pipeline logs to the same file)
    assert "4 dead letters in" in cli("dlq", "list", dead_letters).stdout


def test_a_crash_before_the_mark_replays_the_letter_again(
    cli: Callable[..., Result],
    dead_letters: Path,
    agents_only: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Replay first, mark second: a crash in between means at-least-once, never lost."""
    (agents_only.parent / "fixed").touch()

    def crash(log: Path, ids: object) -> int:
        raise KeyboardInterrupt  # the process dies before the mark is written

    monkeypatch.setattr("reagents.cli.dlq.mark_resolved", crash)
    args = ("dlq", "replay", dead_letters, "-p", agents_only, "--stage", "agent", "--resolve")
    assert cli(*args).exit_code != 0
    out = agents_only.parent / "out.jsonl"
    assert [d["payload"] for d in lines(out)].count({"n": 3}) == 1  # it was replayed
    assert resolved_ids(dead_letters) == set()  # but not marked: still listed, replayed again
    monkeypatch.undo()
    assert cli(*args).exit_code == 0
    assert [d["payload"] for d in lines(out)].count({"n": 3}) == 2
    assert len(resolved_ids(dead_letters)) == 1


def test_resolve_needs_a_file(cli: Callable[..., Result], agents_only: Path) -> None:
    result = cli("dlq", "replay", "--kafka", "t", "-p", agents_only, "--resolve")
    assert_one_line_error(result, 2, "--resolve", "FILE")


def test_mark_resolved_appends_once_and_survives_a_torn_line(tmp_path: Path) -> None:
    log = tmp_path / "dead.jsonl"
    resolved_path(log).write_text("aaa\nbb")  # the last write was cut short
    assert mark_resolved(log, ["ccc", "aaa", "ccc"]) == 1
    assert resolved_ids(log) == {"aaa", "bb", "ccc"}
    assert resolved_path(log).read_text() == "aaa\nbb\nccc\n"


def test_show_says_a_letter_is_resolved(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = write_letters(tmp_path / "dead.jsonl", [letter(1, "a:1")])
    (one,) = lines(path)
    mark_resolved(path, [str(one["dead_letter_id"])])
    shown = cli("dlq", "show", path, str(one["dead_letter_id"])[:6])
    assert shown.exit_code == 0, shown.output
    assert "resolved" in shown.stderr
