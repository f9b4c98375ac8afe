"""Every store, source and sink that holds a file or a connection closes, as a context
manager too, and closing twice is harmless; a coordinator closes only the store it opened.

The Kafka clients and the embedded broker are checked in ``tests/kafka/test_closing.py``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, Pipeline
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import encode_event
from reagents.patterns.coordinator import CoordinatorBase, StoreChoice
from reagents.patterns.idempotency import MemoryIdempotencyStore, SqliteIdempotencyStore
from reagents.patterns.saga import Saga, SagaCoordinator, SagaStep
from reagents.patterns.saga_store import SagaStatus, SqliteSagaStore
from reagents.patterns.workflow import Workflow, WorkflowCoordinator, WorkflowStep
from reagents.sinks.file import FileSink, JsonlDeadLetterLog, read_dead_letters
from reagents.sources.file import Checkpoint, FileSource, read_checkpoint
from reagents.sources.memory import MemorySource, SourceClosedError

EVENTS = [AgentEvent(event_type="tick", payload={"n": n}) for n in range(3)]
SAGA = Saga("order", (SagaStep("a", "a", "do", "undo"),))
WORKFLOW = Workflow("report", (WorkflowStep("a", "a", "do"),))


def letter() -> DeadLetter:
    return DeadLetter.from_error(FailureStage.AGENT, RuntimeError("no"), event=EVENTS[0])


# -- stores ---------------------------------------------------------------------------


def test_a_sqlite_saga_store_closes_its_connection_at_the_end_of_a_with_block(
    tmp_path: Path,
) -> None:
    with SqliteSagaStore(tmp_path / "sagas.db") as store:
        assert store.create("r1", "saga", "order", {})
    with pytest.raises(sqlite3.ProgrammingError):
        store.get("r1")
    store.close()  # twice: harmless
    with SqliteSagaStore(tmp_path / "sagas.db") as reopened:
        record = reopened.get("r1")
        assert record is not None
        assert record.status is SagaStatus.RUNNING


def test_a_sqlite_idempotency_store_closes_the_connection_it_opened(tmp_path: Path) -> None:
    with SqliteIdempotencyStore(tmp_path / "keys.db") as store:
        store.put("k", [{"dict": {"ok": 1}}])
    with pytest.raises(sqlite3.ProgrammingError):
        store.get("k")
    store.close()  # twice: harmless
    with SqliteIdempotencyStore(tmp_path / "keys.db") as reopened:
        assert reopened.get("k") == [{"dict": {"ok": 1}}]


def test_a_sqlite_idempotency_store_leaves_a_connection_it_was_given_open() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        with SqliteIdempotencyStore(connection) as store:
            store.put("k", [])
        assert connection.execute("SELECT key FROM applied_keys").fetchall() == [("k",)]
    finally:
        connection.close()


def test_a_store_that_cannot_open_its_database_does_not_leak_the_connection(
    tmp_path: Path,
) -> None:
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_bytes(b"this is not a SQLite file, " * 100)
    store = SqliteSagaStore(not_a_database)  # opens at its first use: building touches nothing
    with pytest.raises(sqlite3.DatabaseError):
        store.get("run")
    store.close()
    with pytest.raises(sqlite3.DatabaseError):
        SqliteIdempotencyStore(not_a_database)
    # a leaked connection would fail the test with an unraisable ResourceWarning (3.13)


def test_a_saga_store_opens_nothing_until_used_and_refuses_use_after_close(
    tmp_path: Path,
) -> None:
    path = tmp_path / "sagas.db"
    store = SqliteSagaStore(path)
    assert not path.exists()  # a pipeline built only to be drawn creates no file
    assert store.get("nothing") is None
    assert path.exists()
    store.close()
    store.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        store.get("nothing")


def test_memory_stores_are_context_managers_too() -> None:
    with MemoryIdempotencyStore() as store:
        store.put("k", [])
    store.close()
    assert store.get("k") == []  # nothing to release: still usable


# -- coordinators ---------------------------------------------------------------------


def pipeline() -> Pipeline:
    return Pipeline("closing", dead_letters=MemoryDeadLetters())


Build = Callable[[StoreChoice], CoordinatorBase]
BOTH_KINDS = pytest.mark.parametrize(
    "build",
    [
        lambda store: SagaCoordinator(pipeline(), store, [SAGA]),
        lambda store: WorkflowCoordinator(pipeline(), store, [WORKFLOW]),
    ],
    ids=["saga", "workflow"],
)


@BOTH_KINDS
async def test_a_coordinator_closes_the_store_it_opened_from_a_path(
    build: Build, tmp_path: Path
) -> None:
    async with build(tmp_path / "runs.db") as coordinator:
        assert coordinator.owns_store
        assert coordinator.store.create("r1", coordinator.kind, "x", {})
    with pytest.raises(sqlite3.ProgrammingError):
        coordinator.store.get("r1")
    await coordinator.close()  # twice: harmless


@BOTH_KINDS
async def test_a_coordinator_leaves_a_store_it_was_given_open(build: Build, tmp_path: Path) -> None:
    with SqliteSagaStore(tmp_path / "runs.db") as store:
        async with build(store) as coordinator:
            assert not coordinator.owns_store
            assert coordinator.store is store
        await coordinator.close()
        assert store.create("r1", "saga", "order", {})  # still open: the caller's to close
    with pytest.raises(sqlite3.ProgrammingError):
        store.get("r1")


# -- sources --------------------------------------------------------------------------


async def test_a_file_source_releases_its_file_and_saves_its_checkpoint(tmp_path: Path) -> None:
    log = tmp_path / "events.jsonl"
    log.write_bytes(b"".join(encode_event(event) + b"\n" for event in EVENTS))
    first_line = len(encode_event(EVENTS[0])) + 1
    async with FileSource(log, batch_size=1) as source:
        batches = source.batches()
        [incoming] = await anext(batches)
        incoming.ack()
        file = source._file
        assert file is not None
        assert not file.closed
    assert file.closed
    assert read_checkpoint(source.checkpoint_path) == Checkpoint(first_line, 1)
    await source.close()  # twice: harmless
    await batches.aclose()
    assert read_checkpoint(source.checkpoint_path) == Checkpoint(first_line, 1)


async def test_a_memory_source_stops_accepting_events_when_closed() -> None:
    async with MemorySource("m") as source:
        source.publish_nowait(EVENTS[0])
    assert source.stopped
    with pytest.raises(SourceClosedError):
        source.publish_nowait(EVENTS[1])
    await source.close()  # twice: harmless


# -- sinks ----------------------------------------------------------------------------


async def test_a_file_sink_flushes_and_closes_its_file(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    async with FileSink(path, flush_every=100) as sink:
        for event in EVENTS:
            await sink.write(event)
        file = sink._file
        assert file is not None
    assert file.closed
    assert path.read_bytes().count(b"\n") == len(EVENTS)
    await sink.close()  # twice: harmless


async def test_memory_sinks_are_context_managers_too() -> None:
    async with MemorySink() as sink:
        await sink.write(EVENTS[0])
    await sink.close()
    assert sink.events == [EVENTS[0]]
    with MemoryDeadLetters() as letters:
        letters.write(letter())
    async with letters:
        pass
    assert len(letters) == 1


def test_a_dead_letter_log_closes_its_file_in_a_with_block(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    with JsonlDeadLetterLog(path) as log:
        log.write(letter())
        file = log._file
        assert file is not None
    assert file.closed
    log.close()  # twice: harmless
    assert len(list(read_dead_letters(path))) == 1


async def test_a_dead_letter_log_closes_its_file_in_an_async_with_block(tmp_path: Path) -> None:
    path = tmp_path / "dead.jsonl"
    async with JsonlDeadLetterLog(path) as log:
        log.write(letter())
        file = log._file
        assert file is not None
    assert file.closed
    await log.aclose()  # twice: harmless
    assert len(list(read_dead_letters(path))) == 1
