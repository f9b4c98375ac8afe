"""Pull agents over a real socket: fetch (long poll), acks with reactions, failures,
lease expiry and redelivery, and max_concurrent bounding the leases."""

from __future__ import annotations

import asyncio

from reagents import Pipeline
from reagents.events import AgentEvent
from reagents.sinks.memory import MemoryDeadLetters
from tests.server.agent_helpers import CuedSource, eventually, pull_body
from tests.server.live import live_server


def order(n: int = 0) -> AgentEvent:
    return AgentEvent(event_type="order", payload={"n": n})


async def test_a_client_fetches_acks_and_its_reactions_reach_python_agents() -> None:
    events = [order(n) for n in range(3)]
    acked_by_client: set[str] = set()
    source = CuedSource(events, early=lambda event_id: event_id not in acked_by_client)
    pipeline = Pipeline("pull", sources=[source], dead_letters=MemoryDeadLetters())
    billed: list[AgentEvent] = []

    @pipeline.agent(subscription="type = billed")
    async def ledger(event: AgentEvent) -> None:
        billed.append(event)

    async with live_server(pipeline) as live:
        body = pull_body(max_concurrent=2)
        assert (await live.client.post("/agents/biller/register", json=body)).status_code == 201
        assert (await live.client.get("/agents/biller/events", params={"wait": 0})).json() == []
        waiting = asyncio.create_task(live.client.get("/agents/biller/events?max=10&wait=5"))
        await asyncio.sleep(0.05)
        assert not waiting.done()  # a long poll
        source.cue.set()
        first = (await waiting).json()
        await eventually(lambda: pipeline.stats()["biller"].in_flight == 2)
        more = (await live.client.get("/agents/biller/events?max=10")).json()
        leased = first + more
        assert len(leased) == 2  # max_concurrent bounds the leases
        assert all(item["attempt"] == 1 for item in leased)
        status = (await live.client.get("/agents/biller/status")).json()
        assert (status["leased"], status["queue_depth"], status["active"]) == (2, 1, 2)
        acks = {
            "acks": [
                {"delivery_id": item["delivery_id"], "reactions": {"event_type": "billed"}}
                for item in leased
            ]
        }
        acked_by_client.update(item["event"]["event_id"] for item in leased)
        answer = (await live.client.post("/agents/biller/acks", json=acks)).json()
        assert sorted(answer["acknowledged"]) == sorted(i["delivery_id"] for i in leased)
        assert answer["unknown"] == answer["failed"] == []
        last = (await live.client.get("/agents/biller/events?wait=5")).json()
        assert len(last) == 1
        acked_by_client.add(last[0]["event"]["event_id"])
        done = {"acks": [last[0]["delivery_id"]]}  # an ack without reactions
        assert (await live.client.post("/agents/biller/acks", json=done)).status_code == 200
        await eventually(lambda: len(source.acked) == 3 and len(billed) == 2)
        assert {e.causation_id for e in billed} == {i["event"]["event_id"] for i in leased}
        assert {e.source_agent for e in billed} == {"biller"}
        assert source.early == []
        assert sorted(source.acked) == sorted(e.event_id for e in events)


async def test_an_expired_lease_is_a_failure_and_the_event_comes_again() -> None:
    event = order()
    letters = MemoryDeadLetters()
    source = CuedSource([event])
    pipeline = Pipeline("pull", sources=[source], dead_letters=letters)
    async with live_server(pipeline) as live:
        body = pull_body(lease=0.2, retries=1)
        assert (await live.client.post("/agents/slow/register", json=body)).status_code == 201
        source.cue.set()
        first = (await live.client.get("/agents/slow/events?wait=5")).json()
        assert [item["attempt"] for item in first] == [1]
        second = (await live.client.get("/agents/slow/events?wait=5")).json()  # after expiry
        assert [item["event"]["event_id"] for item in second] == [event.event_id]
        assert second[0]["attempt"] == 2
        assert second[0]["delivery_id"] != first[0]["delivery_id"]
        late = {"acks": [first[0]["delivery_id"]]}
        assert (await live.client.post("/agents/slow/acks", json=late)).json()["unknown"] == [
            first[0]["delivery_id"]
        ]
        assert source.acked == []  # the late ack did not settle anything
        failure = {"failures": [{"delivery_id": second[0]["delivery_id"], "reason": "no stock"}]}
        assert (await live.client.post("/agents/slow/acks", json=failure)).json()["failed"] == [
            second[0]["delivery_id"]
        ]
        await eventually(lambda: source.acked == [event.event_id])
        status = (await live.client.get("/agents/slow/status")).json()
        assert (status["failed"], status["retried"], status["dead_lettered"]) == (2, 1, 1)
    [letter] = letters.letters
    assert "no stock" in letter.message
    assert letter.attempts == 2


async def test_bad_acks_change_nothing_and_say_why() -> None:
    source = CuedSource([order()])
    pipeline = Pipeline("pull", sources=[source], dead_letters=MemoryDeadLetters())
    async with live_server(pipeline) as live:
        assert (await live.client.post("/agents/p/register", json=pull_body())).status_code == 201
        source.cue.set()
        [item] = (await live.client.get("/agents/p/events?wait=5")).json()
        delivery = item["delivery_id"]
        bad_bodies = {
            b"{nope": "invalid acks",
            b'{"acks": [{"delivery_id": "%s", "reactions": [1]}]}' % delivery.encode(): (
                "reaction #1 is a JSON number"
            ),
            b'{"acks": [{"delivery_id": "%s", "reactions": {"event_type": ""}}]}'
            % delivery.encode(): "not a valid event",
            b'{"acks": ["%s"], "failures": [{"delivery_id": "%s", "reason": "x"}]}'
            % (delivery.encode(), delivery.encode()): "both acknowledged and failed",
        }
        for raw, reason in bad_bodies.items():
            answer = await live.client.post("/agents/p/acks", content=raw)
            assert answer.status_code == 422, raw
            assert reason in answer.json()["detail"]
        assert (await live.client.get("/agents/p/status")).json()["leased"] == 1
        good = await live.client.post("/agents/p/acks", json={"acks": [delivery]})
        assert good.json()["acknowledged"] == [delivery]
        await eventually(lambda: len(source.acked) == 1)
