"""Webhook agents over a real socket: retries, dead letters, the allowlist, redirects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from fastapi import FastAPI

from reagents import Pipeline
from reagents.events import AgentEvent
from reagents.server import ServerSettings
from reagents.server.webhook import WebhookAgent
from reagents.sinks.memory import MemoryDeadLetters
from tests.server.agent_helpers import CuedSource, eventually, webhook_body
from tests.server.hooks import webhook_server
from tests.server.live import live_server

LOCAL = ServerSettings(webhook_hosts=("127.0.0.1",))


def lettered(letters: MemoryDeadLetters) -> set[str]:
    return {letter.event.event_id for letter in letters.letters if letter.event is not None}


def order(n: int = 0) -> AgentEvent:
    return AgentEvent(event_type="order", payload={"n": n})


async def test_a_webhook_that_fails_twice_then_answers_is_handled_once() -> None:
    event = order()
    handled: list[AgentEvent] = []
    source = CuedSource([event], early=lambda _: not handled)
    pipeline = Pipeline("hooks", sources=[source], dead_letters=MemoryDeadLetters())

    @pipeline.agent(subscription="type = shipped")
    async def shipping(reaction: AgentEvent) -> None:
        handled.append(reaction)

    async def answer(number: int, posted: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        if number <= 2:
            return 500, b"database down", {}
        reaction = {"event_type": "shipped", "payload": {"order": posted["payload"]["n"]}}
        return 200, json.dumps(reaction).encode(), {"content-type": "application/json"}

    async with webhook_server(answer) as hook, live_server(pipeline, LOCAL) as live:
        answer_ = await live.client.post("/agents/shop/register", json=webhook_body(hook.url))
        assert answer_.status_code == 201, answer_.text
        assert answer_.json()["kind"] == "webhook"
        source.cue.set()
        await eventually(lambda: len(source.acked) == 1)
        assert [p["event_id"] for p in hook.received] == [event.event_id] * 3
        assert [p["retry_count"] for p in hook.received] == [0, 1, 2]
        assert hook.headers[0]["content-type"] == "application/json"
        assert len(handled) == 1
        assert handled[0].payload == {"order": 0}
        assert handled[0].source_agent == "shop"
        assert handled[0].causation_id == event.event_id
        assert source.early == []  # acknowledged only once the webhook answered
        status = (await live.client.get("/agents/shop/status")).json()
        assert {k: status[k] for k in ("received", "processed", "failed", "retried")} == {
            "received": 1,
            "processed": 1,
            "failed": 2,
            "retried": 2,
        }
        assert status["dead_lettered"] == 0
        assert status["emitted"] == 1


async def test_a_webhook_that_always_fails_ends_in_dead_letters_with_the_status() -> None:
    events = [order(n) for n in range(3)]
    letters = MemoryDeadLetters()
    source = CuedSource(events, early=lambda event_id: event_id not in lettered(letters))
    pipeline = Pipeline("hooks", sources=[source], dead_letters=letters)

    async def answer(number: int, posted: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        return 503, b"", {}

    async with webhook_server(answer) as hook, live_server(pipeline, LOCAL) as live:
        body = webhook_body(hook.url, retries=2)
        assert (await live.client.post("/agents/down/register", json=body)).status_code == 201
        source.cue.set()
        await eventually(lambda: len(source.acked) == 3)
    assert len(hook.received) == 9  # three tries each
    assert sorted(letter.event.event_id for letter in letters.letters) == sorted(  # type: ignore[union-attr]
        e.event_id for e in events
    )
    for letter in letters.letters:
        assert letter.agent_id == "down"
        assert letter.attempts == 3
        assert "HTTP 503" in letter.message
        assert hook.url in letter.message
    assert source.early == []


async def test_timeouts_redirects_and_bad_bodies_are_failures_that_say_why() -> None:
    letters = MemoryDeadLetters()
    pipeline = Pipeline("hooks", dead_letters=letters)
    release = asyncio.Event()

    async def answer(number: int, posted: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
        kind = posted["payload"]["kind"]
        if kind == "slow":
            await release.wait()
            return 204, b"", {}
        if kind == "redirect":
            return 302, b"", {"location": "http://169.254.169.254/latest/meta-data"}
        return 200, b"<html>not json</html>", {}

    async with webhook_server(answer) as hook, live_server(pipeline, LOCAL) as live:
        body = webhook_body(hook.url, retries=0, subscription="type = probe")
        body["delivery"]["timeout"] = 0.2
        assert (await live.client.post("/agents/probe/register", json=body)).status_code == 201
        for kind in ("slow", "redirect", "html"):
            pipeline.publish(AgentEvent(event_type="probe", payload={"kind": kind}))
        await eventually(lambda: len(letters.letters) == 3)
        release.set()
    reasons = {letter.event.payload["kind"]: letter.message for letter in letters.letters}  # type: ignore[union-attr]
    assert "timed out after 0.2 s" in reasons["slow"]
    assert "HTTP 302" in reasons["redirect"]
    assert "redirects are not followed" in reasons["redirect"]
    assert "not JSON" in reasons["html"]
    assert len(hook.received) == 3  # the redirect's target was never called


async def test_the_allowlist_refuses_other_hosts_userinfo_and_schemes() -> None:
    settings = ServerSettings(webhook_hosts=("127.0.0.1:9",))
    async with live_server(Pipeline("hooks"), settings) as live:
        cases = {
            "http://127.0.0.1:8080/hook": "127.0.0.1:8080 is not in the server's webhook_hosts",
            "http://169.254.169.254/latest": "169.254.169.254:80 is not in",
            "http://user:pw@127.0.0.1:9/hook": "user names and passwords are not allowed",
            "file:///etc/passwd": "scheme 'file' is not allowed",
            "gopher://127.0.0.1:9/": "scheme 'gopher' is not allowed",
        }
        for url, reason in cases.items():
            answer = await live.client.post("/agents/x/register", json=webhook_body(url))
            assert answer.status_code == 422, url
            assert reason in answer.json()["detail"], answer.json()
        assert (await live.client.get("/agents")).json() == {"agents": []}
    async with live_server(Pipeline("hooks")) as live:  # no list: no webhooks at all
        answer = await live.client.post(
            "/agents/x/register", json=webhook_body("http://127.0.0.1:9/hook")
        )
        assert answer.status_code == 422
        assert "webhooks are off" in answer.json()["detail"]


async def test_on_shutdown_remote_agents_leave_and_the_shared_client_closes() -> None:
    pipeline = Pipeline("hooks")
    async with webhook_server(_no_content) as hook, live_server(pipeline, LOCAL) as live:
        for agent_id in ("one", "two"):
            body = webhook_body(hook.url)
            assert (await live.client.post(f"/agents/{agent_id}/register", json=body)).is_success
        app = live.server.config.app
        assert isinstance(app, FastAPI)
        remote = app.state.reagents.remote_agents
        client = remote.client
        hooked = [r.agent for r in remote.agents.values() if isinstance(r.agent, WebhookAgent)]
        assert [agent._client for agent in hooked] == [client, client]  # one, shared
        pipeline.publish(order())
        await eventually(lambda: len(hook.received) == 2)
        assert not client.is_closed
    assert client.is_closed
    assert pipeline.agents == []


async def _no_content(number: int, posted: dict[str, Any]) -> tuple[int, bytes, dict[str, str]]:
    return 204, b"", {}
