"""`idempotent`: a repeated key gets the first answer; SQLite commits state and key together."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reagents import AgentEvent, AgentResponse
from reagents.errors import ConfigurationError
from reagents.patterns.idempotency import (
    MemoryIdempotencyStore,
    SqliteIdempotencyStore,
    idempotent,
    reject,
)


def command(key: str | None, event_type: str = "reserve", **payload: Any) -> AgentEvent:
    body = dict(payload) if key is None else {"idempotency_key": key, **payload}
    return AgentEvent(event_type=event_type, payload=body)


async def test_a_repeated_key_gets_the_first_answer_without_calling_the_handler() -> None:
    calls: list[int] = []

    def reserve(event: AgentEvent) -> dict[str, int]:
        calls.append(event.payload["qty"])
        return {"left": 10 - sum(calls)}

    handle = idempotent(reserve, MemoryIdempotencyStore())
    first = await handle(command("s:1", qty=2))
    again = await handle(command("s:1", qty=2))
    other = await handle(command("s:2", qty=3))
    unkeyed = [await handle(command(None, qty=1)) for _ in range(2)]
    assert first == {"left": 8}
    assert again == [{"left": 8}]  # replays are lists: the same events on the bus
    assert other == {"left": 5}
    assert unkeyed == [{"left": 4}, {"left": 3}]
    assert calls == [2, 3, 1, 1]


async def test_events_and_responses_are_answered_again_for_the_new_request() -> None:
    def decline(event: AgentEvent) -> list[Any]:
        return [
            reject(event, "over limit"),
            AgentResponse(original_event_id=event.event_id, agent_id="pay", status="failure"),
        ]

    handle = idempotent(decline, MemoryIdempotencyStore())
    await handle(command("k"))
    retry = command("k")
    answers = await handle(retry)
    assert isinstance(answers, list)
    event, response = answers
    assert isinstance(event, AgentEvent)
    assert isinstance(response, AgentResponse)
    assert event.event_type == "reserve.rejected"
    assert event.payload == {"status": "failure", "reason": "over limit"}
    assert event.causation_id == retry.event_id
    assert response.original_event_id == retry.event_id
    assert response.status == "failure"


async def test_a_failure_is_not_remembered_so_the_redelivery_tries_again() -> None:
    attempts: list[str] = []

    def flaky(event: AgentEvent) -> dict[str, str]:
        attempts.append("x")
        if len(attempts) == 1:
            raise RuntimeError("busy")
        return {"ok": "yes"}

    handle = idempotent(flaky, MemoryIdempotencyStore())
    with pytest.raises(RuntimeError):
        await handle(command("k"))
    assert await handle(command("k")) == {"ok": "yes"}
    assert len(attempts) == 2


async def test_a_command_arriving_after_its_compensation_is_rejected() -> None:
    applied: list[str] = []
    handle = idempotent(lambda e: applied.append(e.event_type), MemoryIdempotencyStore())
    await handle(command("s:1:compensate", event_type="release"))
    answers = await handle(command("s:1", event_type="reserve"))
    assert isinstance(answers, list)
    [late] = answers
    assert isinstance(late, AgentEvent)
    assert late.event_type == "reserve.rejected"
    assert "compensated before it arrived" in late.payload["reason"]
    assert applied == ["release"]


async def test_a_compensation_does_not_hide_an_applied_command() -> None:
    handle = idempotent(lambda e: {"done": e.event_type}, MemoryIdempotencyStore())
    await handle(command("s:1"))
    await handle(command("s:1:compensate", event_type="release"))
    assert await handle(command("s:1")) == [{"done": "reserve"}]


def test_the_memory_store_forgets_the_least_recently_used_key() -> None:
    store = MemoryIdempotencyStore(max_keys=2)
    store.put("a", [])
    store.put("b", [])
    store.get("a")
    store.put("c", [])
    assert (store.get("a"), store.get("b"), store.get("c")) == ([], None, [])
    with pytest.raises(ConfigurationError, match="max_keys"):
        MemoryIdempotencyStore(max_keys=0)


async def test_sqlite_commits_the_state_and_the_key_together_or_neither(tmp_path: Path) -> None:
    path = tmp_path / "agent.db"
    store = SqliteIdempotencyStore(path)
    db = store.connection
    db.execute("CREATE TABLE stock (qty INTEGER)")
    db.execute("INSERT INTO stock VALUES (10)")

    def reserve(event: AgentEvent) -> dict[str, int]:
        db.execute("UPDATE stock SET qty = qty - ?", (event.payload["qty"],))
        if event.payload.get("explode"):
            raise RuntimeError("crash after writing")
        return {"reserved": event.payload["qty"]}

    handle = idempotent(reserve, store)
    with pytest.raises(RuntimeError):
        await handle(command("k1", qty=4, explode=True))
    await handle(command("k2", qty=3))
    await handle(command("k2", qty=3))
    store.close()

    reopened = sqlite3.connect(path)
    assert reopened.execute("SELECT qty FROM stock").fetchone() == (7,)
    keys = reopened.execute("SELECT key FROM applied_keys").fetchall()
    assert keys == [("k2",)]
    reopened.close()
    again = SqliteIdempotencyStore(path)
    assert again.get("k2") == [{"dict": {"reserved": 3}}]
    again.close()
