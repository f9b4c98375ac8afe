"""``POST /events`` publishes a repeated event id (or ``Idempotency-Key``) only once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import httpx
from pydantic import SecretStr

from reagents.events import AgentEvent, encode_event
from reagents.pipelines.pipeline import Pipeline
from reagents.server import Scope, Token
from reagents.server.dedupe import IdempotencyWindow
from reagents.server.handoff import HandoffFailed, InboxHandoff
from tests.server.ingest_helpers import PUBLISHER, handled, recording, settings
from tests.server.live import LiveServer, live_server


async def post(
    live: LiveServer, body: bytes, token: str = PUBLISHER, **headers: str
) -> httpx.Response:
    return await live.client.post(
        "/events", content=body, headers={**live.authed(token), **headers}
    )


def batch(*events: AgentEvent) -> bytes:
    return b"[" + b",".join(encode_event(e) for e in events) + b"]"


async def test_a_repeated_event_id_is_accepted_once() -> None:
    pipeline, seen = recording()
    event = AgentEvent(event_type="job")
    async with live_server(pipeline, settings()) as live:
        first = await post(live, encode_event(event))
        again = await post(live, encode_event(event))
        assert first.json() == {"ids": [event.event_id], "published": 1, "duplicates": []}
        assert again.status_code == 202
        assert again.json() == {
            "ids": [event.event_id],
            "published": 0,
            "duplicates": [event.event_id],
        }
        await handled(pipeline, seen, 1)
        await asyncio.sleep(0.05)
    assert seen == [event]


async def test_repeats_inside_a_batch_and_across_batches() -> None:
    pipeline, seen = recording()
    a, b, c = (AgentEvent(event_type="job", payload={"n": n}) for n in range(3))
    async with live_server(pipeline, settings()) as live:
        first = (await post(live, batch(a, a, b))).json()
        assert first == {
            "ids": [a.event_id] * 2 + [b.event_id],
            "published": 2,
            "duplicates": [a.event_id],
        }
        second = (await post(live, batch(b, c))).json()
        assert second == {
            "ids": [b.event_id, c.event_id],
            "published": 1,
            "duplicates": [b.event_id],
        }
        await handled(pipeline, seen, 3)
    assert seen == [a, b, c]


async def test_an_idempotency_key_names_a_single_event_per_caller() -> None:
    other = "o" * 20
    tokens = (
        *settings().tokens,
        Token(name="other", token=SecretStr(other), scopes=frozenset({Scope.PUBLISH})),
    )
    pipeline, seen = recording()
    body = b'{"event_type": "job"}'  # no event_id: every post would make a new one
    async with live_server(pipeline, settings(tokens=tokens)) as live:
        first = (await post(live, body, **{"Idempotency-Key": "k1"})).json()
        again = (await post(live, body, **{"Idempotency-Key": "k1"})).json()
        assert again == {"ids": first["ids"], "published": 0, "duplicates": first["ids"]}
        theirs = (await post(live, body, other, **{"Idempotency-Key": "k1"})).json()
        assert theirs["published"] == 1
        assert theirs["ids"] != first["ids"]
        refused = await post(live, batch(AgentEvent(event_type="job")), **{"Idempotency-Key": "k"})
        assert refused.status_code == 422
        assert "Idempotency-Key applies to a single event" in refused.json()["detail"]
        await handled(pipeline, seen, 2)
    assert [e.event_id for e in seen] == first["ids"] + theirs["ids"]


async def test_the_window_forgets_the_oldest_ids() -> None:
    pipeline, seen = recording()
    a, b, c = (AgentEvent(event_type="job", payload={"n": n}) for n in range(3))
    async with live_server(pipeline, settings(idempotency_window=2)) as live:
        for event in (a, b, c):
            assert (await post(live, encode_event(event))).json()["published"] == 1
        assert (await post(live, encode_event(c))).json()["published"] == 0
        assert (await post(live, encode_event(a))).json()["published"] == 1  # forgotten
        await handled(pipeline, seen, 4)
    assert seen == [a, b, c, a]


async def test_a_window_of_zero_remembers_nothing() -> None:
    pipeline, seen = recording()
    event = AgentEvent(event_type="job")
    async with live_server(pipeline, settings(idempotency_window=0)) as live:
        for _ in range(2):
            assert (await post(live, encode_event(event))).json()["published"] == 1
        await handled(pipeline, seen, 2)
    assert seen == [event, event]


class GatedHandoff(InboxHandoff):
    """The inbox, reached only when the test opens the gate (as a slow broker would be);
    the first hand-off fails when ``fail_first``."""

    def __init__(self, pipeline: Pipeline, fail_first: bool) -> None:
        super().__init__(pipeline)
        self.gate = asyncio.Event()
        self.fail_first = fail_first
        self.calls = 0

    async def hand_off(self, events: Sequence[AgentEvent]) -> None:
        self.calls += 1
        await self.gate.wait()
        if self.fail_first and self.calls == 1:
            raise HandoffFailed("broker went away")
        await super().hand_off(events)


async def _race(fail_first: bool) -> tuple[list[httpx.Response], list[AgentEvent], int]:
    pipeline, seen = recording()
    gated = GatedHandoff(pipeline, fail_first)
    event = AgentEvent(event_type="job")
    async with live_server(pipeline, settings(), ingest=gated) as live:
        first = asyncio.create_task(post(live, encode_event(event)))
        while gated.calls == 0:
            await asyncio.sleep(0.005)
        second = asyncio.create_task(post(live, encode_event(event)))
        await asyncio.sleep(0.1)  # the repeat waits for the first hand-off's outcome
        assert not second.done()
        gated.gate.set()
        answers = [await first, await second]
        await handled(pipeline, seen, 1)
    return answers, seen, gated.calls


async def test_a_concurrent_repeat_waits_for_the_first_hand_off() -> None:
    (first, second), seen, calls = await _race(fail_first=False)
    assert (first.status_code, first.json()["published"]) == (202, 1)
    assert (second.status_code, second.json()["published"]) == (202, 0)
    assert (len(seen), calls) == (1, 1)


async def test_a_concurrent_repeat_publishes_when_the_first_hand_off_failed() -> None:
    (first, second), seen, calls = await _race(fail_first=True)
    assert first.status_code == 503
    assert "broker went away" in first.json()["detail"]
    assert (second.status_code, second.json()["published"]) == (202, 1)
    assert (len(seen), calls) == (1, 2)


async def test_window_memory_is_bounded() -> None:
    window = IdempotencyWindow(100)
    for n in range(1000):
        claim = await window.claim([("id", str(n))], [str(n)])
        window.hold(claim)
        window.settle(claim, [str(n)], accepted=True)
    assert len(window) == 100
    assert (await window.claim([("id", "999")], ["999"])).repeats == {0: "999"}
    assert (await window.claim([("id", "0")], ["0"])).fresh == [0]
