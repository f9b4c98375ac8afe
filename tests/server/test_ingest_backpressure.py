"""Backpressure reaches HTTP clients: 429 + ``Retry-After`` above the high watermark."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from reagents import Pipeline
from reagents.events import AgentEvent, encode_event
from reagents.policies import Watermarks
from tests.server.ingest_helpers import PUBLISHER, settings
from tests.server.live import LiveServer, live_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]

HIGH = 8
CLIENTS = 20
EACH = 10


def slow_pipeline(handled: Counter[str]) -> Pipeline:
    """One agent taking 10 ms an event, watermarks 8/4: a burst of 200 overloads it."""
    pipeline = Pipeline("slow", watermarks=Watermarks(high=HIGH, low=HIGH // 2))

    @pipeline.agent(id="slow", max_concurrent=1)
    async def slow(event: AgentEvent) -> None:
        await asyncio.sleep(0.01)
        handled[event.event_id] += 1

    return pipeline


async def honouring_client(
    live: LiveServer, pipeline: Pipeline, events: list[AgentEvent], log: dict[str, list[int]]
) -> None:
    """Post each event until it is accepted, sleeping ``Retry-After`` seconds after a 429."""
    for event in events:
        while True:
            answer = await live.client.post(
                "/events", content=encode_event(event), headers=live.authed(PUBLISHER)
            )
            log["queued"].append(len(pipeline.inbox))
            if answer.status_code == 202:
                break
            assert answer.status_code == 429, answer.text
            assert "busy" in answer.json()["detail"]
            delay = int(answer.headers["retry-after"])
            log["retry_after"].append(delay)
            await asyncio.sleep(delay)


async def test_a_burst_gets_429s_and_an_honouring_client_gets_every_event_in_once() -> None:
    handled: Counter[str] = Counter()
    pipeline = slow_pipeline(handled)
    events = [AgentEvent(event_type="job", payload={"n": n}) for n in range(CLIENTS * EACH)]
    log: dict[str, list[int]] = {"queued": [], "retry_after": []}
    async with live_server(pipeline, settings(rate_limit=None, busy_wait=0)) as live:
        async with asyncio.timeout(60):
            await asyncio.gather(
                *(
                    honouring_client(live, pipeline, events[i * EACH : (i + 1) * EACH], log)
                    for i in range(CLIENTS)
                )
            )
            await pipeline.wait_idle()
            while len(handled) < len(events):
                await asyncio.sleep(0.01)
    assert log["retry_after"], "the burst was never refused"
    assert set(log["retry_after"]) == {1}
    assert handled == Counter({e.event_id: 1 for e in events})
    assert max(log["queued"]) <= HIGH + CLIENTS  # what waited in memory stayed bounded


async def test_a_short_burst_waits_for_room_instead_of_429() -> None:
    # busy_wait (1 s by default): a request waits for room that frees up within it.
    handled: Counter[str] = Counter()
    pipeline = slow_pipeline(handled)
    events = [AgentEvent(event_type="job", payload={"n": n}) for n in range(CLIENTS * EACH)]
    log: dict[str, list[int]] = {"queued": [], "retry_after": []}
    async with live_server(pipeline, settings(rate_limit=None, busy_wait=5)) as live:
        async with asyncio.timeout(60):
            await asyncio.gather(
                *(
                    honouring_client(live, pipeline, events[i * EACH : (i + 1) * EACH], log)
                    for i in range(CLIENTS)
                )
            )
            while len(handled) < len(events):
                await asyncio.sleep(0.01)
    assert log["retry_after"] == []
    assert handled == Counter({e.event_id: 1 for e in events})
    # requests woken together may each queue their event once the pipeline is under
    # its mark: memory stays bounded by the mark plus what the open requests carry
    assert max(log["queued"]) <= HIGH + 2 * CLIENTS
