"""Durable state of sagas and workflows: one row per run plus an append-only step log.

`SagaStore` is the small interface the coordinators need (create, set status, append
to the log, load, list unfinished); `SqliteSagaStore` implements it on one SQLite file
in WAL mode. Every write is its own committed transaction, made before the coordinator
acts on it, so what a coordinator killed at any instant has recorded is exactly what a
restarted one reads back. A Kafka compacted topic keyed by run id (value: the row and
its log) can implement the same interface later.

A store is a context manager (``with SqliteSagaStore("sagas.db") as store:``); `close`
releases it and may be called more than once.
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

from reagents.closing import Closing
from reagents.errors import ConfigurationError
from reagents.events import utc_now

__all__ = [
    "Action",
    "LogEntry",
    "Phase",
    "SagaRecord",
    "SagaStatus",
    "SagaStore",
    "SqliteSagaStore",
]


class SagaStatus(StrEnum):
    """Where a saga or workflow is: the first two are unfinished, the rest are final."""

    RUNNING = "running"
    COMPENSATING = "compensating"
    COMPLETED = "completed"
    COMPENSATED = "compensated"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        """True for a final status (nothing left for a coordinator to do)."""
        return self not in (SagaStatus.RUNNING, SagaStatus.COMPENSATING)


class Phase(StrEnum):
    """Which message of a step a log entry is about."""

    COMMAND = "command"
    COMPENSATION = "compensation"


class Action(StrEnum):
    """What happened to a step's command or compensation."""

    SENT = "sent"  # written before the message is sent
    DONE = "done"  # the agent answered with success; detail["result"] is its answer
    REJECTED = "rejected"  # the agent refused or failed: nothing was applied
    TIMED_OUT = "timed_out"  # no answer in time: it may or may not have been applied
    ERROR = "error"  # one attempt failed (it will be retried)
    FAILED = "failed"  # retries ran out: the step is given up


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of a run's step log."""

    step_id: str
    phase: Phase
    action: Action
    detail: dict[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class SagaRecord:
    """A saga or workflow run as stored: its status, input data and step log."""

    run_id: str
    kind: str
    name: str
    status: SagaStatus
    data: dict[str, Any]
    reason: str | None
    created_at: datetime
    updated_at: datetime
    log: tuple[LogEntry, ...] = field(default=())

    def last(self, step_id: str, phase: Phase = Phase.COMMAND) -> LogEntry | None:
        """The latest log entry for ``step_id`` in ``phase`` (None if it never started)."""
        for entry in reversed(self.log):
            if entry.step_id == step_id and entry.phase is phase:
                return entry
        return None

    def results(self) -> dict[str, Any]:
        """Each step that completed, mapped to the result its agent answered."""
        return {
            entry.step_id: entry.detail.get("result")
            for entry in self.log
            if entry.phase is Phase.COMMAND and entry.action is Action.DONE
        }

    def count(self, step_id: str, phase: Phase, action: Action) -> int:
        """How many times ``action`` was logged for ``step_id`` in ``phase``."""
        return sum(
            1 for e in self.log if e.step_id == step_id and e.phase is phase and e.action is action
        )


class SagaStore(Closing, ABC):
    """Where coordinators keep runs; every method returns once the write is durable."""

    @abstractmethod
    def create(self, run_id: str, kind: str, name: str, data: dict[str, Any]) -> bool:
        """Record a new run as ``running``; False (and no change) if ``run_id`` exists."""

    @abstractmethod
    def set_status(self, run_id: str, status: SagaStatus, reason: str | None = None) -> None:
        """Move a run to ``status`` (``reason`` says why, for failures)."""

    @abstractmethod
    def append(
        self,
        run_id: str,
        step_id: str,
        phase: Phase,
        action: Action,
        detail: dict[str, Any] | None = None,
    ) -> LogEntry:
        """Add one entry to a run's step log and return it."""

    @abstractmethod
    def get(self, run_id: str) -> SagaRecord | None:
        """The run with its whole log, or None."""

    @abstractmethod
    def unfinished(self, kind: str) -> list[SagaRecord]:
        """Every run of ``kind`` still running or compensating, oldest first."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, status TEXT NOT NULL,
    data TEXT NOT NULL, reason TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS step_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(run_id),
    step_id TEXT NOT NULL, phase TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS step_log_run ON step_log(run_id, seq);
CREATE INDEX IF NOT EXISTS runs_status ON runs(kind, status);
"""

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


class SqliteSagaStore(SagaStore):
    """`SagaStore` on a SQLite file (WAL); ``":memory:"`` for tests.

    ``synchronous="FULL"`` (the default) fsyncs every commit, so a record survives a
    power loss as well as a killed process; ``"NORMAL"`` survives a killed process only.
    The store opens its connection at its first use (building a pipeline that has a
    saga coordinator touches no file) and holds it until `close` (or the end of a
    ``with`` block).
    """

    def __init__(self, path: str | Path = "sagas.db", *, synchronous: Synchronous = "FULL") -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ConfigurationError(
                f"synchronous must be OFF/NORMAL/FULL/EXTRA, not {synchronous!r}"
            )
        self.path = str(path)
        self._synchronous = synchronous
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            if self._closed:
                raise sqlite3.ProgrammingError(f"the saga store {self.path} is closed")
            self._connection = self._connect()
        return self._connection

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._synchronous}")
            db.executescript(_SCHEMA)
        except BaseException:
            db.close()
            raise
        return db

    def create(self, run_id: str, kind: str, name: str, data: dict[str, Any]) -> bool:
        now = utc_now().isoformat()
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, NULL, ?, ?)",
            (run_id, kind, name, SagaStatus.RUNNING.value, json.dumps(data), now, now),
        )
        return cursor.rowcount == 1

    def set_status(self, run_id: str, status: SagaStatus, reason: str | None = None) -> None:
        cursor = self._db.execute(
            "UPDATE runs SET status = ?, reason = ?, updated_at = ? WHERE run_id = ?",
            (status.value, reason, utc_now().isoformat(), run_id),
        )
        if cursor.rowcount != 1:
            raise KeyError(f"no saga or workflow {run_id!r} in {self.path}")

    def append(
        self,
        run_id: str,
        step_id: str,
        phase: Phase,
        action: Action,
        detail: dict[str, Any] | None = None,
    ) -> LogEntry:
        entry = LogEntry(step_id, phase, action, detail or {}, utc_now())
        self._db.execute(
            "INSERT INTO step_log (run_id, step_id, phase, action, detail, at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                run_id,
                step_id,
                phase.value,
                action.value,
                json.dumps(entry.detail),
                entry.at.isoformat(),
            ),
        )
        return entry

    def get(self, run_id: str) -> SagaRecord | None:
        row = self._db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return None if row is None else self._record(row)

    def unfinished(self, kind: str) -> list[SagaRecord]:
        rows = self._db.execute(
            "SELECT * FROM runs WHERE kind = ? AND status IN (?, ?) ORDER BY created_at, run_id",
            (kind, SagaStatus.RUNNING.value, SagaStatus.COMPENSATING.value),
        ).fetchall()
        return [self._record(row) for row in rows]

    def close(self) -> None:
        """Close the database connection (using the store afterwards raises
        `sqlite3.ProgrammingError`)."""
        self._closed = True
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _record(self, row: tuple[Any, ...]) -> SagaRecord:
        run_id, kind, name, status, data, reason, created, updated = row
        log = tuple(
            LogEntry(step, Phase(phase), Action(action), json.loads(detail), _time(at))
            for step, phase, action, detail, at in self._db.execute(
                "SELECT step_id, phase, action, detail, at FROM step_log "
                "WHERE run_id = ? ORDER BY seq",
                (run_id,),
            )
        )
        return SagaRecord(
            run_id,
            kind,
            name,
            SagaStatus(status),
            json.loads(data),
            reason,
            _time(created),
            _time(updated),
            log,
        )


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)
