"""A saga coordinator SIGKILLed at every step boundary and restarted finishes every saga.

A worker process runs a 3-step order saga (reserve → charge → ship) twice: ``ok``
completes, ``bad`` is rejected at shipping and compensated (refund, release). The
agents keep stock, card spend, shipments and an append-only ``applied`` ledger in a
SQLite file, committed with their idempotency keys (`SqliteIdempotencyStore`). The
worker kills itself with SIGKILL at the first boundary it has not been killed at yet:
after each saga-store write (saga created, message sent, answer recorded, status set)
and after each agent commit. The test restarts it until a run ends normally, so the
saga is killed once at every boundary, then checks that both sagas ended as they
should and that the ledger holds each command and compensation exactly once.

Workers are forked from the test process (the same code, already imported) to keep
the dozens of restarts fast; each is a separate process killed with a real SIGKILL.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sqlite3
import sys
import traceback
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from reagents import Agent, AgentEvent, MemoryDeadLetters, Pipeline
from reagents.patterns.idempotency import SqliteIdempotencyStore, idempotent, reject
from reagents.patterns.saga import Saga, SagaCoordinator, SagaStep
from reagents.patterns.saga_store import Action, LogEntry, Phase, SagaStatus, SqliteSagaStore
from reagents.sinks.outputs import Handler

pytestmark = pytest.mark.integration

SAGA = Saga(
    "order",
    (
        SagaStep("reserve", "inventory", "reserve", "release", timeout=5),
        SagaStep("charge", "payment", "charge", "refund", timeout=5),
        SagaStep("ship", "shipping", "ship", "cancel", timeout=5),
    ),
)
ORDERS = {
    "ok": {"sku": "lamp", "amount": 30, "country": "US"},
    "bad": {"sku": "lamp", "amount": 50, "country": "AQ"},
}


class Crashes:
    """Kills this process at the first boundary label it was never killed at."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done = set(path.read_text().split()) if path.exists() else set()

    def boundary(self, label: str) -> None:
        if label in self.done:
            return
        with self.path.open("a") as file:
            file.write(label + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.kill(os.getpid(), signal.SIGKILL)


class CrashingStore(SqliteSagaStore):
    """A saga store that reaches a boundary after every write."""

    def __init__(self, path: Path, crashes: Crashes) -> None:
        super().__init__(path)
        self.crashes = crashes

    def create(self, run_id: str, kind: str, name: str, data: dict[str, Any]) -> bool:
        created = super().create(run_id, kind, name, data)
        self.crashes.boundary(f"{run_id}:created")
        return created

    def set_status(self, run_id: str, status: SagaStatus, reason: str | None = None) -> None:
        super().set_status(run_id, status, reason)
        self.crashes.boundary(f"{run_id}:status:{status.value}")

    def append(
        self,
        run_id: str,
        step_id: str,
        phase: Phase,
        action: Action,
        detail: dict[str, Any] | None = None,
    ) -> LogEntry:
        entry = super().append(run_id, step_id, phase, action, detail)
        self.crashes.boundary(f"{run_id}:{step_id}:{phase.value}:{action.value}")
        return entry


def open_ledger(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS stock (sku TEXT PRIMARY KEY, qty INTEGER);
        CREATE TABLE IF NOT EXISTS spent (card TEXT PRIMARY KEY, total INTEGER);
        CREATE TABLE IF NOT EXISTS shipments (saga TEXT, country TEXT);
        CREATE TABLE IF NOT EXISTS applied (key TEXT, op TEXT);
        INSERT OR IGNORE INTO stock VALUES ('lamp', 10);
        INSERT OR IGNORE INTO spent VALUES ('card', 0);
        """
    )
    return db


def shop_agents(db: sqlite3.Connection, crashes: Crashes) -> list[Agent]:
    """Three agents whose effects and idempotency keys commit together in ``db``."""

    def inventory(event: AgentEvent) -> dict[str, int]:
        change = -1 if event.event_type == "reserve" else 1
        db.execute("UPDATE stock SET qty = qty + ? WHERE sku = ?", (change, event.payload["sku"]))
        return note(event)

    def payment(event: AgentEvent) -> dict[str, int]:
        amount = event.payload["amount"] * (1 if event.event_type == "charge" else -1)
        db.execute("UPDATE spent SET total = total + ?", (amount,))
        return note(event)

    def shipping(event: AgentEvent) -> Any:
        if event.payload["country"] == "AQ":
            return reject(event, "no delivery to AQ")
        db.execute("INSERT INTO shipments VALUES (?, ?)", (event.payload["saga_id"], "US"))
        return note(event)

    def note(event: AgentEvent) -> dict[str, int]:
        db.execute(
            "INSERT INTO applied VALUES (?, ?)",
            (event.payload["idempotency_key"], event.event_type),
        )
        return {"ok": 1}

    keys = SqliteIdempotencyStore(db)

    def crash_after(agent_id: str, handler: Handler) -> Handler:
        once = idempotent(handler, keys)

        async def handle(event: AgentEvent) -> Any:
            answer = await once(event)
            step = event.payload["step_id"]
            phase = (
                "compensation"
                if event.payload["idempotency_key"].endswith("compensate")
                else "command"
            )
            crashes.boundary(f"{event.payload['saga_id']}:{step}:{phase}:applied")
            return answer

        return handle

    return [
        Agent(crash_after(i, h), id=i, subscription=f"type = {i}.never")
        for i, h in [("inventory", inventory), ("payment", payment), ("shipping", shipping)]
    ]


async def serve(directory: Path) -> None:
    crashes = Crashes(directory / "killed.txt")
    pipeline = Pipeline("crash", dead_letters=MemoryDeadLetters())
    with closing(open_ledger(directory / "agents.db")) as ledger:
        for agent in shop_agents(ledger, crashes):
            pipeline.add_agent(agent)
        with CrashingStore(directory / "sagas.db", crashes) as store:
            async with SagaCoordinator(pipeline, store, [SAGA]) as coordinator:
                running = asyncio.create_task(pipeline.run(forever=True))
                await asyncio.sleep(0)
                await coordinator.resume()
                for saga_id, order in ORDERS.items():
                    await coordinator.run("order", order, saga_id=saga_id)
            pipeline.request_stop()
            await running


def worker(directory: Path) -> None:
    try:
        asyncio.run(serve(directory))
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    os._exit(0)


def test_a_coordinator_killed_at_every_boundary_finishes_every_saga_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    runs = 0
    while True:
        runs += 1
        assert runs < 80, "the saga never finished"
        process = context.Process(target=worker, args=(tmp_path,))
        process.start()
        process.join(timeout=30)
        if process.exitcode == 0:
            break
        assert process.exitcode == -signal.SIGKILL, f"worker crashed on its own: {process.exitcode}"

    killed = (tmp_path / "killed.txt").read_text().split()
    assert runs == len(killed) + 1
    for saga_id, phase, steps in [
        ("ok", "command", ("reserve", "charge", "ship")),
        ("bad", "command", ("reserve", "charge", "ship")),
        ("bad", "compensation", ("charge", "reserve")),
    ]:
        for step in steps:
            for boundary in ("sent", "applied"):
                assert f"{saga_id}:{step}:{phase}:{boundary}" in killed
    assert {"ok:created", "ok:status:completed", "bad:status:compensating"} <= set(killed)

    with SqliteSagaStore(tmp_path / "sagas.db") as store:
        ok, bad = store.get("ok"), store.get("bad")
    assert ok is not None
    assert bad is not None
    assert ok.status is SagaStatus.COMPLETED
    assert bad.status is SagaStatus.COMPENSATED
    assert bad.reason == "step 'ship' rejected: no delivery to AQ"
    # killed after "sent", then after the agent applied it: sent three times, applied once
    assert ok.count("reserve", Phase.COMMAND, Action.SENT) == 3

    with closing(open_ledger(tmp_path / "agents.db")) as ledger:
        applied = ledger.execute(
            "SELECT key, count(*) FROM applied GROUP BY key ORDER BY key"
        ).fetchall()
        assert applied == [
            ("bad:charge", 1),
            ("bad:charge:compensate", 1),
            ("bad:reserve", 1),
            ("bad:reserve:compensate", 1),
            ("ok:charge", 1),
            ("ok:reserve", 1),
            ("ok:ship", 1),
        ]
        assert ledger.execute("SELECT qty FROM stock").fetchone() == (9,)
        assert ledger.execute("SELECT total FROM spent").fetchone() == (30,)
        assert ledger.execute("SELECT saga FROM shipments").fetchall() == [("ok",)]
