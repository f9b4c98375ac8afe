"""/agents over a real socket: listing, status, conflicts, unknown ids, scopes, and
removing an agent whose queue is full without losing any of it."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import SecretStr

from reagents import Pipeline
from reagents.events import AgentEvent
from reagents.server import Scope, ServerSettings, Token
from reagents.sinks.memory import MemoryDeadLetters
from tests.server.agent_helpers import CuedSource, eventually, pull_body, webhook_body
from tests.server.hooks import webhook_server
from tests.server.live import live_server

LOCAL = ServerSettings(webhook_hosts=("127.0.0.1",))


def order(n: int = 0) -> AgentEvent:
    return AgentEvent(event_type="order", payload={"n": n})


async def test_delete_while_events_are_queued_loses_nothing() -> None:
    events = [order(n) for n in range(10)]
    posted: set[str] = set()
    source = CuedSource(events, early=lambda event_id: event_id not in posted)
    pipeline = Pipeline("remove", sources=[source], dead_letters=MemoryDeadLetters())
    gate = asyncio.Event()

    async def answer(number: int, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        await gate.wait()
        posted.add(body["event_id"])
        return 204, b"", {}

    async with webhook_server(answer) as hook, live_server(pipeline, LOCAL) as live:
        register = await live.client.post("/agents/hook/register", json=webhook_body(hook.url))
        assert register.status_code == 201
        source.cue.set()
        await eventually(lambda: pipeline.stats()["hook"].queue_depth == 9)
        draining = await live.client.delete("/agents/hook", params={"wait": 0})
        assert draining.status_code == 202
        assert draining.json()["draining"] == "hook"
        assert draining.json()["queue_depth"] == 9
        listed = (await live.client.get("/agents")).json()["agents"]
        assert [(a["id"], a["state"]) for a in listed] == [("hook", "draining")]
        pipeline.publish(order(99))  # after the delete: not routed to it
        again = await live.client.post("/agents/hook/register", json=webhook_body(hook.url))
        assert again.status_code == 409
        assert "being removed" in again.json()["detail"]
        gate.set()
        removed = await live.client.delete("/agents/hook", params={"wait": 10})
        assert removed.status_code == 200
        assert removed.json() == {"removed": "hook"}
        assert sorted(posted) == sorted(e.event_id for e in events)
        assert len(hook.received) == 10
        assert sorted(source.acked) == sorted(posted)
        assert source.early == []
        gone = await live.client.get("/agents/hook/status")
        assert gone.status_code == 404
        assert "hook" not in pipeline.stats()
        assert pipeline.in_flight == 0


async def test_list_and_status_of_python_and_remote_agents() -> None:
    pipeline = Pipeline("list", dead_letters=MemoryDeadLetters())

    @pipeline.agent(subscription="type = order", max_concurrent=3, priority=2)
    async def local(event: AgentEvent) -> None:
        return None

    async with live_server(pipeline) as live:
        body = pull_body(subscription="type = order AND payload.n > 1", priority=7)
        assert (await live.client.post("/agents/remote/register", json=body)).status_code == 201
        for n in range(5):
            pipeline.publish(order(n))
        await eventually(lambda: pipeline.stats()["local"].processed == 5)
        await eventually(lambda: pipeline.stats()["remote"].received == 3)
        listed = (await live.client.get("/agents")).json()["agents"]
        assert [(a["id"], a["kind"], a["max_concurrent"], a["priority"]) for a in listed] == [
            ("local", "python", 3, 2),
            ("remote", "pull", 1, 7),
        ]
        assert listed[1]["subscription"] == "type = order AND payload.n > 1"
        for agent_id in ("local", "remote"):
            status = (await live.client.get(f"/agents/{agent_id}/status")).json()
            snapshot = pipeline.stats()[agent_id]
            for key in ("received", "processed", "failed", "retried", "dead_lettered"):
                assert status[key] == getattr(snapshot, key), (agent_id, key)
            assert status["queue_depth"] == snapshot.queue_depth
            assert status["active"] == snapshot.in_flight
            assert status["latency_p50_ms"] == snapshot.latency_p50_ms
            assert status["latency_p99_ms"] == snapshot.latency_p99_ms
        remote = (await live.client.get("/agents/remote/status")).json()
        assert (remote["received"], remote["active"], remote["queue_depth"]) == (3, 1, 2)
        assert (remote["waiting"], remote["leased"]) == (1, 0)
        assert remote["delivery"] == {"mode": "pull", "lease_seconds": 30.0, "fetch_seconds": 60.0}
        for _ in range(3):  # acked one by one (max_concurrent=1): nothing left at the end
            [item] = (await live.client.get("/agents/remote/events?wait=5")).json()
            await live.client.post("/agents/remote/acks", json={"acks": [item["delivery_id"]]})
        await eventually(lambda: pipeline.stats()["remote"].processed == 3)
        assert pipeline.in_flight == 0


async def test_conflicts_unknown_ids_and_wrong_kinds() -> None:
    pipeline = Pipeline("conflicts")

    @pipeline.agent()
    async def native(event: AgentEvent) -> None:
        return None

    async with webhook_server(_no_content) as hook, live_server(pipeline, LOCAL) as live:
        taken = await live.client.post("/agents/native/register", json=pull_body())
        assert taken.status_code == 409
        assert "Python agent" in taken.json()["detail"]
        assert (await live.client.post("/agents/p/register", json=pull_body())).status_code == 201
        twice = await live.client.post("/agents/p/register", json=pull_body())
        assert twice.status_code == 409
        assert "registered already" in twice.json()["detail"]
        hook_body = webhook_body(hook.url)
        assert (await live.client.post("/agents/w/register", json=hook_body)).status_code == 201
        assert (await live.client.delete("/agents/native")).status_code == 409
        fetch = await live.client.get("/agents/w/events")
        assert fetch.status_code == 409
        assert "webhook agent" in fetch.json()["detail"]
        for method, path in (
            ("GET", "/agents/ghost/status"),
            ("DELETE", "/agents/ghost"),
            ("GET", "/agents/ghost/events"),
            ("POST", "/agents/ghost/acks"),
        ):
            missing = await live.client.request(method, path)
            assert missing.status_code == 404, path
            assert missing.json()["detail"] == "no agent 'ghost'; agents: native, p, w"
        bad_id = await live.client.post("/agents/a%20b/register", json=pull_body())
        assert bad_id.status_code == 422
        assert "letters, digits" in bad_id.json()["detail"]
        assert (await live.client.delete("/agents/p")).json() == {"removed": "p"}
        assert (await live.client.post("/agents/p/register", json=pull_body())).status_code == 201


async def test_registering_needs_the_register_scope_and_reading_the_read_scope() -> None:
    reader, registrar = "r" * 20, "g" * 20
    settings = ServerSettings(
        tokens=(
            Token(name="reader", token=SecretStr(reader), scopes=frozenset({Scope.READ})),
            Token(name="ops", token=SecretStr(registrar), scopes=frozenset({Scope.REGISTER})),
        )
    )
    async with live_server(Pipeline("scopes"), settings) as live:
        denied = await live.client.post(
            "/agents/p/register", json=pull_body(), headers=live.authed(reader)
        )
        assert denied.status_code == 403
        assert "register" in denied.json()["detail"]
        assert (await live.client.get("/agents")).status_code == 401
        allowed = await live.client.post(
            "/agents/p/register", json=pull_body(), headers=live.authed(registrar)
        )
        assert allowed.status_code == 201
        assert (await live.client.get("/agents", headers=live.authed(registrar))).status_code == 403
        listed = await live.client.get("/agents", headers=live.authed(reader))
        assert [a["id"] for a in listed.json()["agents"]] == ["p"]
        fetch = await live.client.get("/agents/p/events", headers=live.authed(reader))
        assert fetch.status_code == 403


async def test_a_bad_subscription_answers_422_with_the_position() -> None:
    async with live_server(Pipeline("bad")) as live:
        body = pull_body(subscription="type = order AND (priority <")
        answer = await live.client.post("/agents/p/register", json=body)
        assert answer.status_code == 422
        assert "at position 28" in answer.json()["detail"]
        assert answer.json()["detail"].startswith("subscription: ")


async def _no_content(number: int, body: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    return 204, b"", {}
