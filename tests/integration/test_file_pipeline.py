"""File → agents → file, end to end: outputs, dead letters, checkpoints, replay, crashes.

These tests cross real file (and, for the crash test, process) boundaries: they check
that what a pipeline writes can be read back, that dead letters replay, and that a
checkpointed `FileSource` loses nothing when its process is killed (at-least-once with
bounded re-delivery).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from reagents import (
    Agent,
    AgentEvent,
    FailureStage,
    FileSink,
    FileSource,
    JsonlDeadLetterLog,
    MemoryDeadLetters,
    MemorySink,
    PayloadSchemas,
    Pipeline,
    Watermarks,
    decode_event,
    encode_event,
    read_dead_letters,
    where_type,
)
from reagents.sources.file import Checkpoint, read_checkpoint

pytestmark = pytest.mark.integration

TYPES = ("order.created", "market.tick", "user.login")


class Order(BaseModel):
    order_id: int
    amount: float = Field(gt=0)


def event_id(n: int) -> str:
    return f"evt-{n:05d}"


def make_event(n: int) -> AgentEvent:
    event_type = TYPES[n % len(TYPES)]
    payload: dict[str, object]
    if event_type == "order.created":
        payload = {"order_id": n, "amount": 10.0 + n}
    elif event_type == "market.tick":
        payload = {"symbol": "AAPL", "price": 100.0 + n}
    else:
        payload = {"user": f"u{n}"}
    return AgentEvent(event_id=event_id(n), event_type=event_type, payload=payload)


def write_events(path: Path, count: int) -> list[str]:
    """``count`` events of the three types, one per line; returns their ids in order."""
    events = [make_event(n) for n in range(count)]
    path.write_bytes(b"".join(encode_event(e) + b"\n" for e in events))
    return [e.event_id for e in events]


def read_events(path: Path) -> list[AgentEvent]:
    return [decode_event(line) for line in path.read_bytes().splitlines() if line.strip()]


# -- file → agents → file ----------------------------------------------------------------

CORRUPT_TRUNCATED = b'{"event_id": "evt-broken", "event_type": "order.created", "payl'
CORRUPT_GARBAGE = b"\x00\xffnot json at all"


def write_mixed_input(path: Path) -> tuple[list[AgentEvent], dict[int, bytes], AgentEvent]:
    """300 events, two corrupt lines and one schema-invalid order, at known line numbers.

    Returns the valid events, the corrupt lines by line number (1-based) and the
    schema-invalid event.
    """
    valid = [make_event(n) for n in range(300)]
    invalid = AgentEvent(
        event_id="evt-invalid", event_type="order.created", payload={"order_id": "forty-two"}
    )
    lines: list[bytes] = [encode_event(e) for e in valid]
    lines.insert(40, CORRUPT_TRUNCATED)  # line 41
    lines.insert(150, encode_event(invalid))  # line 151
    lines.insert(250, CORRUPT_GARBAGE)  # line 251
    path.write_bytes(b"\n".join(lines) + b"\n")
    return valid, {41: CORRUPT_TRUNCATED, 251: CORRUPT_GARBAGE}, invalid


async def price(event: AgentEvent) -> AgentEvent:
    await asyncio.sleep(0)
    order = Order.model_validate(event.payload)
    return event.derive("order.priced", {"order_id": order.order_id, "total": order.amount * 2})


def notify(event: AgentEvent) -> dict[str, object]:
    return {"notified": event.payload["order_id"]}


async def test_file_to_agents_to_file_end_to_end(tmp_path: Path) -> None:
    input_path = tmp_path / "input.jsonl"
    out_path = tmp_path / "out" / "outputs.jsonl"
    dlq_path = tmp_path / "dlq.jsonl"
    valid, corrupt, invalid = write_mixed_input(input_path)
    source = FileSource(input_path, checkpoint_every=20, batch_size=64)
    pipeline = Pipeline(
        "orders",
        sources=[source],
        agents=[
            Agent(price, id="pricer", subscription="type = order.created", max_concurrent=3),
            Agent(notify, id="notifier", subscription="type = order.priced"),
        ],
        sinks=[FileSink(out_path, where_type("order.priced") | where_type("agent_response"))],
        dead_letters=JsonlDeadLetterLog(dlq_path),
        schemas=PayloadSchemas({"order.created": Order}),
    )

    await asyncio.wait_for(pipeline.run(), timeout=15)

    inputs = {e.event_id: e for e in valid}
    order_ids = {e.event_id for e in valid if e.event_type == "order.created"}
    assert len(order_ids) == 100

    outputs = read_events(out_path)
    assert Counter(e.event_type for e in outputs) == {"order.priced": 100, "agent_response": 100}
    priced = {e.event_id: e for e in outputs if e.event_type == "order.priced"}
    responses = [e for e in outputs if e.event_type == "agent_response"]
    # Each valid order was priced exactly once, by the pricer, in the order's conversation.
    assert Counter(e.causation_id for e in priced.values()) == Counter(order_ids)
    for p in priced.values():
        cause = inputs[p.causation_id or ""]
        assert p.source_agent == "pricer"
        assert p.correlation_id == cause.event_id
        assert p.payload == {
            "order_id": cause.payload["order_id"],
            "total": cause.payload["amount"] * 2,
        }
    # Each priced order was answered once by the notifier: response → priced → input.
    assert Counter(r.causation_id for r in responses) == Counter(priced.keys())
    for r in responses:
        parent = priced[r.causation_id or ""]
        root = inputs[parent.causation_id or ""]
        assert r.source_agent == "notifier"
        assert r.correlation_id == root.event_id
        assert r.payload["original_event_id"] == parent.event_id
        assert r.payload["result"] == {"notified": root.payload["order_id"]}

    letters = list(read_dead_letters(dlq_path, strict=True))
    assert [(d.stage, d.origin) for d in letters] == [
        (FailureStage.DECODE, "input.jsonl:41"),
        (FailureStage.VALIDATION, "input.jsonl:151"),
        (FailureStage.DECODE, "input.jsonl:251"),
    ]
    assert [letters[0].raw, letters[2].raw] == [corrupt[41], corrupt[251]]
    assert letters[0].error_type == letters[2].error_type == "EventDecodeError"
    assert "not valid JSON" in letters[0].message
    assert letters[1].event == invalid
    assert letters[1].error_type == "PayloadValidationError"
    assert "payload.order_id" in letters[1].message
    assert "payload.amount" in letters[1].message

    size = input_path.stat().st_size
    assert source.checkpoint == Checkpoint(size, 303)
    assert read_checkpoint(source.checkpoint_path) == Checkpoint(size, 303)
    assert pipeline.counters.ingested == 303
    assert pipeline.counters.dead_letters == 3
    assert pipeline.counters.emitted == 200
    assert pipeline.in_flight == 0

    # Replaying the dead-letter log: the schema-invalid event comes back as an event
    # (nobody validates it this time); the corrupt raw lines fail to decode again.
    replayed = MemorySink()
    again = MemoryDeadLetters()
    replay = Pipeline(
        "replay", sources=[FileSource(dlq_path)], sinks=[replayed], dead_letters=again
    )
    await asyncio.wait_for(replay.run(), timeout=10)
    assert replayed.events == [invalid]
    assert [(d.stage, d.origin, d.raw) for d in again.letters] == [
        (FailureStage.DECODE, "dlq.jsonl:1", corrupt[41]),
        (FailureStage.DECODE, "dlq.jsonl:3", corrupt[251]),
    ]


async def test_replayed_invalid_event_is_dead_lettered_again_under_the_same_schema(
    tmp_path: Path,
) -> None:
    input_path = tmp_path / "input.jsonl"
    dlq_path = tmp_path / "dlq.jsonl"
    _, _, invalid = write_mixed_input(input_path)
    schemas = PayloadSchemas({"order.created": Order})
    first = Pipeline(
        "first", sources=[FileSource(input_path)], dead_letters=dlq_path, schemas=schemas
    )
    await asyncio.wait_for(first.run(), timeout=10)

    again = MemoryDeadLetters()
    replay = Pipeline("replay", sources=[FileSource(dlq_path)], dead_letters=again, schemas=schemas)
    await asyncio.wait_for(replay.run(), timeout=10)
    assert [(d.stage, d.origin) for d in again.letters] == [
        (FailureStage.DECODE, "dlq.jsonl:1"),
        (FailureStage.VALIDATION, "dlq.jsonl:2"),
        (FailureStage.DECODE, "dlq.jsonl:3"),
    ]
    assert again.letters[1].event == invalid


# -- crash safety: SIGKILL mid-file, then resume from the checkpoint ----------------------

CRASH_EVENTS = 5000
CHECKPOINT_EVERY = 50
KILL_AFTER = 1500

CRASH_SCRIPT = textwrap.dedent(
    """
    import asyncio
    import os
    import sys
    from pathlib import Path

    from reagents import Agent, AgentEvent, FileSource, Pipeline


    async def main(input_path: Path, processed_path: Path) -> None:
        # One write() per line on an O_APPEND descriptor: a kill never leaves half a line.
        fd = os.open(processed_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

        async def record(event: AgentEvent) -> None:
            await asyncio.sleep(0.0005)
            os.write(fd, (event.event_id + "\\n").encode())

        source = FileSource(input_path, start="checkpoint", checkpoint_every={every})
        pipeline = Pipeline(
            "crash",
            sources=[source],
            agents=[Agent(record, id="recorder", max_concurrent=4)],
            dead_letters=input_path.with_name("dead_letters.jsonl"),
        )
        try:
            await pipeline.run()
        finally:
            os.close(fd)


    asyncio.run(main(Path(sys.argv[1]), Path(sys.argv[2])))
    """
).format(every=CHECKPOINT_EVERY)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def _diagnostics(tmp_path: Path, checkpoint_path: Path) -> str:
    stderr = (tmp_path / "stderr.txt").read_text() if (tmp_path / "stderr.txt").exists() else ""
    checkpoint = checkpoint_path.read_text() if checkpoint_path.exists() else "<none>"
    processed = _count_lines(tmp_path / "processed.txt")
    return f"\ncheckpoint: {checkpoint}\nprocessed lines: {processed}\nstderr:\n{stderr[-4000:]}"


def test_sigkill_mid_file_loses_nothing_and_redelivers_only_after_checkpoint(
    tmp_path: Path,
) -> None:
    input_path = tmp_path / "events.jsonl"
    processed_path = tmp_path / "processed.txt"
    script = tmp_path / "crash_pipeline.py"
    script.write_text(CRASH_SCRIPT)
    checkpoint_path = input_path.with_name(input_path.name + ".checkpoint")
    ids = write_events(input_path, CRASH_EVENTS)
    index = {event_id: i for i, event_id in enumerate(ids)}
    command = [sys.executable, str(script), str(input_path), str(processed_path)]

    def diag() -> str:
        return _diagnostics(tmp_path, checkpoint_path)

    # Run 1: kill -9 once a good part of the file was processed.
    with open(tmp_path / "stderr.txt", "ab") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 15
        while _count_lines(processed_path) < KILL_AFTER:
            if process.poll() is not None:
                pytest.fail(f"the pipeline ended (rc={process.returncode}) before the kill{diag()}")
            if time.monotonic() > deadline:
                pytest.fail(f"fewer than {KILL_AFTER} events processed within 15 s{diag()}")
            time.sleep(0.002)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert process.returncode == -signal.SIGKILL, diag()

    at_kill = read_checkpoint(checkpoint_path)
    first_run = _lines(processed_path)
    assert at_kill is not None, f"no checkpoint written before the kill{diag()}"
    assert at_kill.line < CRASH_EVENTS, f"the run had finished before the kill{diag()}"
    assert len(first_run) >= KILL_AFTER
    assert len(first_run) == len(set(first_run)), "a single run handled an event twice"
    # The checkpoint covers only fully handled lines, and is at a line boundary.
    assert set(ids[: at_kill.line]) <= set(first_run), diag()
    assert at_kill.offset == sum(len(encode_event(make_event(n))) + 1 for n in range(at_kill.line))

    # Run 2: start from the checkpoint and run to completion.
    with open(tmp_path / "stderr.txt", "ab") as stderr:
        completed = subprocess.run(
            command, stdout=subprocess.DEVNULL, stderr=stderr, timeout=30, check=False
        )
    assert completed.returncode == 0, diag()

    processed = _lines(processed_path)
    second_run = processed[len(first_run) :]
    counts = Counter(processed)
    missing = set(ids) - set(counts)
    assert not missing, f"{len(missing)} events never processed, e.g. {sorted(missing)[:5]}{diag()}"
    assert set(counts) == set(ids)
    # Run 2 re-read exactly the lines after the checkpoint, each once.
    assert sorted(second_run, key=index.__getitem__) == ids[at_kill.line :], diag()
    # At-least-once with bounded re-delivery: only events after the checkpoint that run 1
    # had already handled are seen twice.
    duplicates = {event_id for event_id, n in counts.items() if n > 1}
    handled_after_checkpoint = {e for e in first_run if index[e] >= at_kill.line}
    assert max(counts.values()) <= 2
    assert duplicates == handled_after_checkpoint, diag()
    assert len(duplicates) <= len(first_run) - at_kill.line
    # The checkpoint lags the work by about `checkpoint_every` lines plus the few events
    # in flight, not by the whole run (a checkpoint written only on close would fail).
    assert len(duplicates) < CHECKPOINT_EVERY + 100, diag()
    assert read_checkpoint(checkpoint_path) == Checkpoint(input_path.stat().st_size, CRASH_EVENTS)
    assert not (tmp_path / "dead_letters.jsonl").exists()


# -- stopping abruptly in-process: cancel run(), resume from the checkpoint ---------------


async def test_cancelled_run_resumes_from_checkpoint(tmp_path: Path) -> None:
    input_path = tmp_path / "events.jsonl"
    ids = write_events(input_path, 2000)
    first: list[str] = []
    second: list[str] = []

    def make_pipeline(into: list[str]) -> tuple[Pipeline, FileSource]:
        async def record(event: AgentEvent) -> None:
            await asyncio.sleep(0.0005)
            into.append(event.event_id)

        source = FileSource(input_path, start="checkpoint", checkpoint_every=25, batch_size=100)
        pipeline = Pipeline(
            "cancel",
            sources=[source],
            agents=[Agent(record, id="recorder", max_concurrent=4)],
            dead_letters=tmp_path / "dead_letters.jsonl",
        )
        return pipeline, source

    pipeline, source = make_pipeline(first)
    task = asyncio.create_task(pipeline.run())
    deadline = time.monotonic() + 10
    while len(first) < 600:
        assert not task.done(), "the run ended before it was cancelled"
        assert time.monotonic() < deadline, f"only {len(first)} events handled in 10 s"
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    at_cancel = read_checkpoint(source.checkpoint_path)
    assert at_cancel is not None
    assert at_cancel == source.checkpoint  # close() saved the whole acked prefix
    assert 600 <= at_cancel.line < 2000
    assert set(ids[: at_cancel.line]) <= set(first)
    handled_after = [e for e in first if e not in set(ids[: at_cancel.line])]
    assert len(handled_after) <= 4  # only what the workers had in hand when cancelled

    pipeline, source = make_pipeline(second)
    await asyncio.wait_for(pipeline.run(), timeout=15)
    assert set(first) | set(second) == set(ids)
    assert sorted(second) == ids[at_cancel.line :]
    assert source.checkpoint == Checkpoint(input_path.stat().st_size, 2000)
    assert read_checkpoint(source.checkpoint_path) == source.checkpoint


async def test_cancel_mid_chain_checkpoints_only_inputs_whose_whole_chain_finished(
    tmp_path: Path,
) -> None:
    """A record is acked only when the events derived from it were handled too."""
    input_path = tmp_path / "orders.jsonl"
    orders = [
        AgentEvent(event_id=event_id(n), event_type="order.created", payload={"n": n})
        for n in range(1000)
    ]
    input_path.write_bytes(b"".join(encode_event(e) + b"\n" for e in orders))
    ids = [e.event_id for e in orders]
    finished: list[str] = []

    def make_pipeline() -> tuple[Pipeline, FileSource]:
        def accept(event: AgentEvent) -> AgentEvent:
            return event.derive("order.accepted", event.payload)

        async def ship(event: AgentEvent) -> None:
            await asyncio.sleep(0.001)
            finished.append(event.conversation_id)  # the root order's id

        source = FileSource(input_path, start="checkpoint", checkpoint_every=10, batch_size=50)
        pipeline = Pipeline(
            "chain",
            sources=[source],
            agents=[
                Agent(accept, id="accept", subscription="type = order.created", max_concurrent=4),
                Agent(ship, id="ship", subscription="type = order.accepted", max_concurrent=2),
            ],
            dead_letters=tmp_path / "dead_letters.jsonl",
            watermarks=Watermarks(high=200, low=100),
        )
        return pipeline, source

    pipeline, source = make_pipeline()
    task = asyncio.create_task(pipeline.run())
    deadline = time.monotonic() + 10
    while len(finished) < 200:
        assert not task.done(), "the run ended before it was cancelled"
        assert time.monotonic() < deadline, f"only {len(finished)} orders shipped in 10 s"
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    at_cancel = read_checkpoint(source.checkpoint_path)
    first = list(finished)
    assert at_cancel is not None
    assert 0 < at_cancel.line < 1000
    # `accept` ran far ahead of `ship`, yet the checkpoint only covers shipped orders.
    assert set(ids[: at_cancel.line]) <= set(first)
    assert pipeline.stats()["accept"].processed > at_cancel.line

    finished.clear()
    pipeline, source = make_pipeline()
    await asyncio.wait_for(pipeline.run(), timeout=15)
    assert sorted(finished) == ids[at_cancel.line :]
    assert set(first) | set(finished) == set(ids)
    assert source.checkpoint == Checkpoint(input_path.stat().st_size, 1000)
