"""FileSource: JSONL replay with origins, dead letters, checkpoints, pacing and follow."""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import aclosing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Incoming
from reagents.events import AgentEvent, encode_event
from reagents.sources.file import CheckpointError, FileSource, read_checkpoint

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ev(n: int, seconds: float = 0.0) -> AgentEvent:
    return AgentEvent(
        event_type="tick", payload={"n": n}, timestamp=T0 + timedelta(seconds=seconds)
    )


def line(event: AgentEvent) -> bytes:
    return encode_event(event) + b"\n"


def write_log(path: Path, *events: AgentEvent | bytes) -> Path:
    path.write_bytes(b"".join(e if isinstance(e, bytes) else line(e) for e in events))
    return path


async def records(source: FileSource) -> list[Incoming]:
    async with aclosing(source.batches()) as batches:
        return [incoming async for batch in batches for incoming in batch]


def ns(items: Sequence[Incoming]) -> list[int]:
    return [i.item.payload["n"] for i in items if isinstance(i.item, AgentEvent)]


async def test_reads_events_in_order_with_origins(tmp_path: Path) -> None:
    log = write_log(tmp_path / "market.jsonl", ev(1), b"\n", ev(2), ev(3))
    source = FileSource(log, batch_size=2)
    got = await records(source)
    assert ns(got) == [1, 2, 3]
    assert [i.origin for i in got] == ["market.jsonl:1", "market.jsonl:3", "market.jsonl:4"]
    assert source.position == source.total_bytes == log.stat().st_size
    assert source.name == "file:market.jsonl"


async def test_last_line_without_newline_is_read(tmp_path: Path) -> None:
    log = tmp_path / "e.jsonl"
    log.write_bytes(line(ev(1)) + encode_event(ev(2)))
    assert ns(await records(FileSource(log))) == [1, 2]


async def test_bad_lines_become_decode_dead_letters_and_the_stream_continues(
    tmp_path: Path,
) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), b"{not json\n", b'{"event_type": ""}\r\n', ev(2))
    got = await records(FileSource(log))
    assert ns(got) == [1, 2]
    letters = [i.item for i in got if isinstance(i.item, DeadLetter)]
    assert [(d.stage, d.origin, d.raw) for d in letters] == [
        (FailureStage.DECODE, "e.jsonl:2", b"{not json"),
        (FailureStage.DECODE, "e.jsonl:3", b'{"event_type": ""}'),
    ]
    assert "not valid JSON" in letters[0].message
    assert [i.origin for i in got if isinstance(i.item, DeadLetter)] == ["e.jsonl:2", "e.jsonl:3"]


def test_missing_file_is_reported_at_construction(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl.*does not exist"):
        FileSource(tmp_path / "nope.jsonl")


async def test_checkpoint_covers_only_the_contiguous_acked_prefix(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), ev(2), ev(3))
    first_line = len(line(ev(1)))
    source = FileSource(log, checkpoint_every=1)
    one, two, three = await records(source)
    cp = tmp_path / "e.jsonl.checkpoint"

    two.ack()
    assert source.checkpoint.offset == 0
    assert not cp.exists()
    one.ack()
    assert source.checkpoint.line == 2
    assert source.checkpoint.offset == first_line + len(line(ev(2)))
    assert json.loads(cp.read_text())["offset"] == source.checkpoint.offset
    three.ack()
    stored = json.loads(cp.read_text())
    assert stored == {
        "path": str(log),
        "offset": log.stat().st_size,
        "line": 3,
        "updated_at": stored["updated_at"],
    }
    assert not (tmp_path / "e.jsonl.checkpoint.tmp").exists()


async def test_checkpoint_is_written_every_n_lines_and_on_close(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", *(ev(n) for n in range(5)))
    cp = tmp_path / "pos" / "cp.json"
    source = FileSource(log, checkpoint_every=3, checkpoint_path=cp)
    got = await records(source)
    for incoming in got[:4]:
        incoming.ack()
    checkpoint = read_checkpoint(cp)
    assert checkpoint is not None
    assert checkpoint.line == 3
    await source.close()
    checkpoint = read_checkpoint(cp)
    assert checkpoint is not None
    assert checkpoint.line == 4
    got[4].ack()  # a late ack after close is still saved
    checkpoint = read_checkpoint(cp)
    assert checkpoint is not None
    assert checkpoint.line == 5


async def test_resume_from_checkpoint(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), ev(2), b"\n", ev(3))
    source = FileSource(log)
    got = await records(source)
    got[0].ack()
    await source.close()

    resumed = FileSource(log, start="checkpoint")
    again = await records(resumed)
    assert ns(again) == [2, 3]
    assert [i.origin for i in again] == ["e.jsonl:2", "e.jsonl:4"]
    for incoming in again:
        incoming.ack()
    await resumed.close()
    assert ns(await records(FileSource(log, start="checkpoint"))) == []


async def test_checkpoint_start_without_checkpoint_reads_from_the_beginning(
    tmp_path: Path,
) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1))
    assert ns(await records(FileSource(log, start="checkpoint"))) == [1]


async def test_truncated_file_is_a_clear_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), ev(2))
    source = FileSource(log)
    for incoming in await records(source):
        incoming.ack()
    await source.close()
    write_log(log, ev(3))
    with pytest.raises(CheckpointError, match="truncated or replaced"):
        FileSource(log, start="checkpoint")


async def test_start_at_end_reads_only_appended_lines(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), ev(2))
    source = FileSource(log, start="end")
    with log.open("ab") as file:
        file.write(line(ev(3)))
    got = await records(source)
    assert ns(got) == [3]
    assert got[0].origin == "e.jsonl:3"


async def test_since_skips_older_events_and_counts_them_as_acked(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1, 0), ev(2, 10), b"garbage\n", ev(3, 20))
    source = FileSource(log, since=T0 + timedelta(seconds=10), checkpoint_every=1)
    got = await records(source)
    assert ns(got) == [2, 3]
    assert [i.origin for i in got] == ["e.jsonl:2", "e.jsonl:3", "e.jsonl:4"]
    assert source.checkpoint.line == 1  # the skipped first line is acked already


async def test_since_accepts_a_naive_datetime_as_utc(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1, 0), ev(2, 10))
    source = FileSource(log, since=datetime(2024, 5, 1, 12, 0, 5))
    assert ns(await records(source)) == [2]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_speed_replays_at_the_recorded_pace(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1, 0), ev(2, 1), ev(3, 1), b"x\n", ev(4, 4))
    clock = FakeClock()
    source = FileSource(log, speed=2.0, sleep=clock.sleep, clock=clock)
    batches = []
    async with aclosing(source.batches()) as stream:
        async for batch in stream:
            batches.append([i.origin for i in batch])
            clock.now += 0.25  # the consumer's work counts against the next wait
    assert clock.sleeps == [0.25, 1.25]
    assert batches == [["e.jsonl:1"], ["e.jsonl:2", "e.jsonl:3", "e.jsonl:4"], ["e.jsonl:5"]]


async def test_without_speed_nothing_sleeps(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1, 0), ev(2, 100))
    clock = FakeClock()
    assert ns(await records(FileSource(log, sleep=clock.sleep, clock=clock))) == [1, 2]
    assert clock.sleeps == []


async def test_follow_sees_appended_lines_and_holds_back_a_partial_line(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1))
    tail = encode_event(ev(3))
    source: FileSource
    polls: list[float] = []

    async def scripted_poll(seconds: float) -> None:
        polls.append(seconds)
        with log.open("ab") as file:
            if len(polls) == 1:
                file.write(line(ev(2)) + tail[:10])
            elif len(polls) == 2:
                file.write(tail[10:])  # still no newline: must not be decoded yet
            elif len(polls) == 3:
                file.write(b"\n")
            else:
                source.stop()

    source = FileSource(log, follow=True, poll_interval=0.5, sleep=scripted_poll)
    seen: list[tuple[int, list[int]]] = []
    async with aclosing(source.batches()) as stream:
        async for batch in stream:
            seen.append((len(polls), ns(batch)))
    assert seen == [(0, [1]), (1, [2]), (3, [3])]
    assert polls == [0.5] * 4


async def test_follow_detects_truncation(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1), ev(2))

    async def truncate(seconds: float) -> None:
        log.write_bytes(b"")

    source = FileSource(log, follow=True, sleep=truncate)
    with pytest.raises(CheckpointError, match="truncated"):
        await records(source)


async def test_dead_letter_log_replays_as_events(tmp_path: Path) -> None:
    failed = ev(7).with_retry().with_retry()
    agent = DeadLetter.from_error(FailureStage.AGENT, KeyError("x"), event=failed, agent_id="a")
    raw_ok = DeadLetter.from_error(FailureStage.DECODE, ValueError("x"), raw=encode_event(ev(8)))
    raw_bad = DeadLetter.from_error(FailureStage.DECODE, ValueError("x"), raw=b"\xffjunk")
    log = tmp_path / "dead.jsonl"
    log.write_bytes(b"".join(d.to_json() + b"\n" for d in (agent, raw_ok, raw_bad)))

    got = await records(FileSource(log))
    replayed = got[0].item
    assert isinstance(replayed, AgentEvent)
    assert replayed.event_id == failed.event_id
    assert replayed.retry_count == 0
    assert ns(got) == [7, 8]
    again = got[2].item
    assert isinstance(again, DeadLetter)
    assert (again.raw, again.origin, again.stage) == (b"\xffjunk", "dead.jsonl:3", "decode")


async def test_an_event_mentioning_the_dead_letter_key_is_still_an_event(tmp_path: Path) -> None:
    event = AgentEvent(event_type="note", payload={"dead_letter_id": "x"})
    log = write_log(tmp_path / "e.jsonl", event)
    (got,) = await records(FileSource(log))
    assert got.item == event


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"speed": 0}, "speed must be > 0"),
        ({"batch_size": 0}, "batch_size must be > 0"),
        ({"start": "middle"}, "start must be"),
    ],
)
def test_rejects_invalid_options(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1))
    with pytest.raises(ValueError, match=message):
        FileSource(log, **kwargs)  # type: ignore[arg-type]


_line_bytes = st.binary(max_size=80).map(lambda b: b.replace(b"\n", b""))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(st.one_of(_line_bytes, st.just(encode_event(ev(0)))), max_size=20))
async def test_random_lines_never_crash_the_source(tmp_path: Path, lines: list[bytes]) -> None:
    log = tmp_path / "fuzz.jsonl"
    log.write_bytes(b"\n".join(lines))
    got = await records(FileSource(log, batch_size=3, checkpoint_every=1))
    expected = [n for n, raw in enumerate(lines, 1) if raw.removesuffix(b"\r").strip()]
    assert [int(i.origin.rsplit(":", 1)[1]) for i in got] == expected
    for incoming, n in zip(got, expected, strict=True):
        if isinstance(incoming.item, DeadLetter):
            assert incoming.item.stage is FailureStage.DECODE
            assert incoming.item.raw == lines[n - 1].removesuffix(b"\r")
        else:
            assert isinstance(incoming.item, AgentEvent)


async def test_replaced_file_with_a_checkpoint_inside_a_line_is_an_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "e.jsonl", ev(1))
    source = FileSource(log)
    (one,) = await records(source)
    one.ack()
    await source.close()
    log.write_bytes(b'{"padding": "' + b"x" * 1000 + b'"}\n')
    with pytest.raises(CheckpointError, match="not at a line boundary"):
        await records(FileSource(log, start="checkpoint"))


async def test_checkpoint_false_writes_no_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(encode_event(AgentEvent(event_type="a")) + b"\n" for _ in range(3)))
    source = FileSource(log, checkpoint=False, checkpoint_every=1)
    async for batch in source.batches():
        for incoming in batch:
            incoming.ack()
    await source.close()
    assert source.checkpoint.line == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.jsonl"]
    with pytest.raises(ValueError, match="checkpoint=True"):
        FileSource(log, start="checkpoint", checkpoint=False)
