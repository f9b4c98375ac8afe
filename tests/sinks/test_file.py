"""FileSink and the JSONL dead-letter log: append-only, flushed by policy, replayable."""

from __future__ import annotations

import logging
from contextlib import aclosing
from pathlib import Path

import pytest

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, decode_event
from reagents.operators.filters import where_type
from reagents.sinks.file import FileSink, JsonlDeadLetterLog, dead_letter_log, read_dead_letters
from reagents.sinks.memory import UnsavedDeadLetters
from reagents.sources.file import FileSource


def ev(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


def on_disk(path: Path) -> list[AgentEvent]:
    return [decode_event(raw) for raw in path.read_bytes().splitlines()]


async def test_appends_one_json_line_per_event_creating_parents(tmp_path: Path) -> None:
    path = tmp_path / "out" / "nested" / "events.jsonl"
    sink = FileSink(path)
    events = [ev(1), ev(2)]
    for event in events:
        await sink.write(event)
    assert on_disk(path) == events
    await sink.close()
    sink2 = FileSink(path, subscription=where_type("tick"), name="log")
    await sink2.write(ev(3))
    await sink2.close()
    assert [e.payload["n"] for e in on_disk(path)] == [1, 2, 3]
    assert (sink.name, sink2.name) == ("file:events.jsonl", "log")


async def test_flush_every_n_writes_and_on_flush(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = FileSink(path, flush_every=3)
    await sink.write(ev(1))
    await sink.write(ev(2))
    assert path.read_bytes() == b""
    await sink.write(ev(3))
    assert len(on_disk(path)) == 3
    await sink.write(ev(4))
    assert len(on_disk(path)) == 3
    await sink.flush()
    assert len(on_disk(path)) == 4
    await sink.write(ev(5))
    await sink.close()
    assert len(on_disk(path)) == 5


async def test_fsync_on_flush(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[int] = []
    monkeypatch.setattr("reagents.sinks.file.os.fsync", synced.append)
    sink = FileSink(tmp_path / "e.jsonl", flush_every=2, fsync=True)
    await sink.write(ev(1))
    assert synced == []
    await sink.write(ev(2))
    assert len(synced) == 1
    await sink.close()
    assert len(synced) == 1  # nothing pending: no second fsync


def test_rejects_a_non_positive_flush_every(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="flush_every must be >= 1"):
        FileSink(tmp_path / "e.jsonl", flush_every=0)


async def test_file_sink_output_replays_through_file_source(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = FileSink(path, flush_every=10)
    events = [ev(n) for n in range(3)]
    for event in events:
        await sink.write(event)
    await sink.close()
    async with aclosing(FileSource(path).batches()) as batches:
        assert [i.item async for batch in batches for i in batch] == events


def letters() -> list[DeadLetter]:
    return [
        DeadLetter.from_error(FailureStage.AGENT, KeyError("sku"), event=ev(1), agent_id="a"),
        DeadLetter.from_error(
            FailureStage.DECODE, ValueError("bad"), raw=b"\x00\xff", origin="f:2"
        ),
    ]


def test_dead_letter_log_round_trip_created_lazily(tmp_path: Path) -> None:
    path = tmp_path / "dlq" / "dead.jsonl"
    log = JsonlDeadLetterLog(path)
    assert not path.exists()
    written = letters()
    for letter in written:
        log.write(letter)
    log.close()
    assert list(read_dead_letters(path)) == written


def test_dead_letter_log_is_readable_after_every_write(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    log = JsonlDeadLetterLog(path)
    written = letters()
    log.write(written[0])
    assert list(read_dead_letters(path)) == written[:1]
    log.write(written[1])
    assert list(read_dead_letters(path)) == written
    assert log.written == 2
    log.close()


def test_read_dead_letters_skips_and_reports_corrupt_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "dead.jsonl"
    good = letters()
    path.write_bytes(good[0].to_json() + b"\n\nnot json\n" + good[1].to_json() + b"\n")
    with caplog.at_level(logging.WARNING):
        assert list(read_dead_letters(path)) == good
    assert f"{path}:3 is not a dead letter" in caplog.text
    with pytest.raises(ValueError, match=r"dead\.jsonl:3 is not a dead letter"):
        list(read_dead_letters(path, strict=True))


async def test_dead_letter_log_replays_as_events(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    log = JsonlDeadLetterLog(path)
    failed = ev(1).with_retry()
    log.write(DeadLetter.from_error(FailureStage.AGENT, KeyError("x"), event=failed))
    log.close()
    async with aclosing(FileSource(path).batches()) as batches:
        (replayed,) = [i.item async for batch in batches for i in batch]
    assert replayed == failed.model_copy(update={"retry_count": 0})


def test_a_dead_letter_log_describes_itself_by_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert JsonlDeadLetterLog("dlq/dead.jsonl").describe() == str(tmp_path / "dlq" / "dead.jsonl")
    assert isinstance(dead_letter_log(None), UnsavedDeadLetters)
    assert isinstance(dead_letter_log("dead.jsonl"), JsonlDeadLetterLog)


async def test_a_fresh_file_sink_starts_the_file_over_when_the_run_opens_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "out" / "events.jsonl"
    path.parent.mkdir()
    path.write_text("old line\n")
    sink = FileSink(path, fresh=True)
    assert path.read_text() == "old line\n"  # building it touches nothing
    await sink.write(AgentEvent(event_type="a"))
    await sink.close()
    await sink.write(AgentEvent(event_type="b"))  # a later open appends
    await sink.close()
    assert [decode_event(line).event_type for line in path.read_bytes().splitlines()] == ["a", "b"]
    silent = FileSink(path, fresh=True)
    await silent.close()  # nothing written: the run's output is empty, not the last one's
    assert path.read_text() == ""
    created = FileSink(tmp_path / "new" / "x.jsonl", fresh=True)
    assert not (tmp_path / "new").exists()
    await created.close()
    assert (tmp_path / "new" / "x.jsonl").read_text() == ""
