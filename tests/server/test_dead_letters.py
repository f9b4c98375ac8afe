"""``/dead-letters`` and ``/dead-letters/{id}/replay`` over a real socket, for each sink
the server can list (memory, JSONL log) and one it cannot (501)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from reagents import AgentEvent, Pipeline
from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import encode_event
from reagents.sinks.base import DeadLetterSink
from reagents.sinks.memory import MemoryDeadLetters
from tests.server.live import live_server
from tests.server.test_app import ADMIN, READER, _settings
from tests.server.threaded import threaded_server


class Flaky:
    """A handler that fails on events whose payload says so, while ``broken``."""

    def __init__(self) -> None:
        self.broken = True
        self.handled: list[AgentEvent] = []

    def __call__(self, event: AgentEvent) -> None:
        if self.broken and event.payload.get("fail"):
            raise ValueError(f"cannot handle {event.payload['n']}")
        self.handled.append(event)


def _pipeline(dead_letters: DeadLetterSink | Path | None = None) -> tuple[Pipeline, Flaky]:
    sink = MemoryDeadLetters() if dead_letters is None else dead_letters
    pipeline = Pipeline("p", dead_letters=sink)
    flaky = Flaky()
    pipeline.agent(id="worker", subscription="type = work", no_retry=ValueError)(flaky)
    pipeline.agent(id="other", subscription="type = other", no_retry=ValueError)(flaky)
    return pipeline, flaky


async def _fail(pipeline: Pipeline, kind: str, *numbers: int) -> None:
    for n in numbers:
        pipeline.publish(AgentEvent(event_type=kind, payload={"n": n, "fail": True}))
    await pipeline.wait_idle()


def _ns(body: dict[str, Any]) -> list[int]:
    return [letter["event"]["payload"]["n"] for letter in body["letters"]]


async def _check_listing(pipeline: Pipeline) -> None:
    async with live_server(pipeline, _settings()) as live:
        await _fail(pipeline, "work", 1, 2, 3)
        await _fail(pipeline, "other", 4)
        get = live.client.get
        headers = live.authed(READER)
        everything = (await get("/dead-letters", headers=headers)).json()
        assert _ns(everything) == [4, 3, 2, 1]  # newest first
        assert everything["letters"][0]["stage"] == "agent"
        assert everything["letters"][0]["message"].startswith("cannot handle 4")
        only = await get("/dead-letters", params={"agent": "worker", "limit": 2}, headers=headers)
        assert _ns(only.json()) == [3, 2]
        decode = await get("/dead-letters", params={"stage": "decode"}, headers=headers)
        assert decode.json()["letters"] == []
        bad = await get("/dead-letters", params={"stage": "nope"}, headers=headers)
        assert bad.status_code == 422
        assert (await get("/dead-letters")).status_code == 401


async def test_listing_memory_dead_letters_newest_first_and_filtered() -> None:
    await _check_listing(_pipeline()[0])


async def test_listing_a_jsonl_dead_letter_log(tmp_path: Path) -> None:
    log = tmp_path / "dead.jsonl"
    await _check_listing(_pipeline(log)[0])
    assert log.is_file()


class Elsewhere(DeadLetterSink):
    """A sink that keeps its letters where the server cannot look (like a Kafka topic)."""

    def __init__(self) -> None:
        self.count = 0

    def write(self, letter: DeadLetter) -> None:
        self.count += 1

    def describe(self) -> str:
        return "a place far away"


async def test_a_sink_that_cannot_be_listed_is_501_naming_those_that_can() -> None:
    pipeline, _ = _pipeline(Elsewhere())
    async with live_server(pipeline) as live:
        answer = await live.client.get("/dead-letters")
        assert answer.status_code == 501
        detail = answer.json()["detail"]
        assert "a place far away" in detail
        assert "MemoryDeadLetters" in detail
        assert "JsonlDeadLetterLog" in detail
        replay = await live.client.post("/dead-letters/x/replay")
        assert replay.status_code == 501


async def test_replay_publishes_the_event_again_with_a_new_id_and_no_retries() -> None:
    pipeline, flaky = _pipeline()
    async with live_server(pipeline, _settings()) as live:
        await _fail(pipeline, "work", 7)
        letters = (await live.client.get("/dead-letters", headers=live.authed(ADMIN))).json()
        letter = letters["letters"][0]
        path = f"/dead-letters/{letter['dead_letter_id']}/replay"
        assert (await live.client.post(path, headers=live.authed(READER))).status_code == 403
        flaky.broken = False
        answer = await live.client.post(path, headers=live.authed(ADMIN))
        assert answer.status_code == 202
        body = answer.json()
        assert body["replay_of"] == letter["dead_letter_id"]
        await pipeline.wait_idle()
        assert [e.event_id for e in flaky.handled] == [body["event_id"]]
        replayed = flaky.handled[0]
        assert replayed.event_id != letter["event"]["event_id"]
        assert replayed.payload == {"n": 7, "fail": True}
        assert replayed.retry_count == 0
        unknown = await live.client.post("/dead-letters/nope/replay", headers=live.authed(ADMIN))
        assert unknown.status_code == 404
        assert "nope" in unknown.json()["detail"]


async def test_replaying_raw_bytes_decodes_them_or_says_why_not() -> None:
    sink = MemoryDeadLetters()
    pipeline, flaky = _pipeline(sink)
    good = AgentEvent(event_type="work", payload={"n": 8})
    fixed = DeadLetter(
        stage=FailureStage.DECODE, raw=encode_event(good), error_type="X", message="was bad"
    )
    broken = DeadLetter(stage=FailureStage.DECODE, raw=b"\xff{nope", error_type="X", message="m")
    sink.write(fixed)
    sink.write(broken)
    async with live_server(pipeline) as live:
        listed = (await live.client.get("/dead-letters", params={"stage": "decode"})).json()
        assert [x["raw_text"] for x in listed["letters"]] == ["\ufffd{nope", good.model_dump_json()]
        answer = await live.client.post(f"/dead-letters/{fixed.dead_letter_id}/replay")
        assert answer.status_code == 202
        await pipeline.wait_idle()
        assert [(e.event_type, e.payload) for e in flaky.handled] == [("work", {"n": 8})]
        refused = await live.client.post(f"/dead-letters/{broken.dead_letter_id}/replay")
        assert refused.status_code == 422
        assert "still do not decode" in refused.json()["detail"]


_HOSTILE = {
    "stage": st.one_of(st.none(), st.text(max_size=20), st.sampled_from(list(FailureStage))),
    "agent": st.one_of(st.none(), st.text(max_size=600)),
    "limit": st.one_of(st.none(), st.integers(-5, 20_000), st.text(max_size=8)),
    "letter_id": st.text(min_size=1, max_size=80),
}


def test_hostile_query_and_path_values_never_break_the_server() -> None:
    pipeline, _ = _pipeline()
    with threaded_server(pipeline) as url, httpx.Client(base_url=url, timeout=10) as client:

        @settings(max_examples=150, deadline=None)
        @given(**_HOSTILE)
        def check(stage: object, agent: object, limit: object, letter_id: str) -> None:
            given_params = {"stage": stage, "agent": agent, "limit": limit}
            params = {k: str(v) for k, v in given_params.items() if v is not None}
            listed = client.get("/dead-letters", params=params)
            assert listed.status_code in {200, 422}, listed.text
            assert listed.json()["detail" if listed.status_code == 422 else "letters"] is not None
            replay = client.post(f"/dead-letters/{quote(letter_id, safe='')}/replay")
            assert replay.status_code in {404, 405}, replay.text

        check()
