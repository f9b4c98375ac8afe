"""What a review of the server found, each pinned by a test on a real socket."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from reagents import Pipeline
from reagents.events import AgentEvent
from reagents.policies import RateLimit
from reagents.server import ServerSettings, Token, create_app
from reagents.sinks.memory import MemoryDeadLetters
from tests.server.agent_helpers import eventually, pull_body, webhook_body
from tests.server.live import live_server


def recorder() -> tuple[Pipeline, list[AgentEvent]]:
    seen: list[AgentEvent] = []
    pipeline = Pipeline("p", dead_letters=MemoryDeadLetters())
    pipeline.agent(id="recorder", subscription="type = job")(seen.append)
    return pipeline, seen


HUGE = b"1" * 5000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'[{"event_type": "job", "payload": {"n": ' + HUGE + b"}}]", "application/json"),
        (b'[{"event_type": "job", "payload": {"s": "\\ud800"}}]', "application/json"),
        (
            b'{"specversion": "1.0", "id": "1", "source": "s", "type": "job",'
            b' "data": {"s": "\\udfff"}}',
            "application/cloudevents+json",
        ),
        (
            b'[{"specversion": "1.0", "id": "1", "source": "s", "type": "job",'
            b' "data": {"n": ' + HUGE + b"}}]",
            "application/cloudevents-batch+json",
        ),
    ],
)
async def test_json_no_event_could_be_written_back_as_is_422_on_every_form(
    body: bytes, content_type: str
) -> None:
    # json.loads took lone surrogates (an event no stream or sink could write again)
    # and raised a bare ValueError (500) on a number of 5,000 digits
    pipeline, seen = recorder()
    async with live_server(pipeline) as live:
        answer = await live.client.post(
            "/events", content=body, headers={"content-type": content_type}
        )
        assert answer.status_code == 422, answer.text
        assert "not valid JSON" in answer.json()["detail"]
    assert seen == []


async def test_an_unwritable_event_is_skipped_by_the_stream_not_fatal_to_it() -> None:
    pipeline = Pipeline("p")

    @pipeline.agent(subscription="type = job")
    def echo(event: AgentEvent) -> AgentEvent:  # builds text JSON cannot hold, in Python
        return event.derive("echo", {"s": "\ud800" if event.payload["bad"] else "fine"})

    async with live_server(pipeline) as live:
        lines: list[str] = []

        async def listen() -> None:
            async with live.client.stream("GET", "/events/stream?where=type%20%3D%20echo") as r:
                async for line in r.aiter_lines():
                    lines.append(line)

        task = asyncio.create_task(listen())
        await eventually(lambda: any("event stream" in line for line in lines))
        pipeline.publish(AgentEvent(event_type="job", payload={"bad": True}))
        pipeline.publish(AgentEvent(event_type="job", payload={"bad": False}))
        await eventually(lambda: any('"fine"' in line for line in lines))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert any("cannot be written as JSON" in line for line in lines)


async def test_dead_letters_list_even_with_an_unwritable_event_among_them() -> None:
    pipeline = Pipeline("p", dead_letters=MemoryDeadLetters())

    @pipeline.agent(subscription="type = job", retry=None)
    def fail(event: AgentEvent) -> None:
        raise ValueError("no")

    async with live_server(pipeline) as live:
        pipeline.publish(AgentEvent(event_type="job", payload={"s": "\ud800"}))
        pipeline.publish(AgentEvent(event_type="job", payload={"s": "ok"}))
        await eventually(lambda: len(pipeline.dead_letter_sink.letters) == 2)  # type: ignore[attr-defined]
        answer = await live.client.get("/dead-letters")
        assert answer.status_code == 200, answer.text
        letters = answer.json()["letters"]
        assert len(letters) == 2
        assert sorted("unwritable" in letter["event"] for letter in letters) == [False, True]


async def test_a_pull_agent_nobody_fetches_from_fails_its_events_in_time() -> None:
    pipeline = Pipeline("p", dead_letters=MemoryDeadLetters())
    async with live_server(pipeline) as live:
        body = pull_body(retries=0)
        body["delivery"]["fetch_seconds"] = 0.3
        assert (await live.client.post("/agents/gone/register", json=body)).status_code == 201
        pipeline.publish(AgentEvent(event_type="order"))
        letters = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
        await eventually(lambda: len(letters) == 1, timeout=5)
        assert "no client fetched the event within 0.3 s" in letters[0].message
        assert pipeline.in_flight == 0


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"origin": "https://evil.example"}, 403),
        ({"sec-fetch-site": "cross-site"}, 403),
        ({"host": "rebound.example:8000"}, 421),
    ],
)
async def test_a_web_page_elsewhere_cannot_drive_an_open_local_server(
    headers: dict[str, str], status: int
) -> None:
    pipeline, seen = recorder()
    async with live_server(pipeline) as live:
        job = {"event_type": "job"}
        refused = await live.client.post("/events", json=job, headers=headers)
        assert refused.status_code == status, refused.text
        register = await live.client.post("/agents/x/register", json=pull_body(), headers=headers)
        assert register.status_code == status
        same_site = {"origin": live.url, "sec-fetch-site": "same-origin"}
        assert (await live.client.post("/events", json=job, headers=same_site)).status_code == 202
        await eventually(lambda: len(seen) == 1)


async def test_ids_and_keys_the_window_would_keep_are_bounded() -> None:
    pipeline, _ = recorder()
    async with live_server(pipeline) as live:
        long_id = await live.client.post("/events", json={"event_id": "x" * 300, "event_type": "j"})
        assert long_id.status_code == 422
        assert "longer than 256" in long_id.json()["detail"]
        long_key = await live.client.post(
            "/events", json={"event_type": "j"}, headers={"idempotency-key": "k" * 300}
        )
        assert long_key.status_code == 422


@contextlib.asynccontextmanager
async def trickle_server() -> AsyncIterator[str]:
    """Answers 200 at once, then its body one byte every 0.3 s."""
    handlers: set[asyncio.Task[None]] = set()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")
            for _ in range(100):
                writer.write(b" ")
                await writer.drain()
                await asyncio.sleep(0.3)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        await trickle(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        server.close()
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


async def test_a_webhook_timeout_bounds_the_whole_call_not_each_read() -> None:
    pipeline = Pipeline("p", dead_letters=MemoryDeadLetters())
    settings = ServerSettings(webhook_hosts=("127.0.0.1",))
    async with trickle_server() as url, live_server(pipeline, settings) as live:
        body = webhook_body(url, retries=0)
        body["delivery"]["timeout"] = 1
        assert (await live.client.post("/agents/slow/register", json=body)).status_code == 201
        pipeline.publish(AgentEvent(event_type="order"))
        letters = pipeline.dead_letter_sink.letters  # type: ignore[attr-defined]
        await eventually(lambda: len(letters) == 1, timeout=5)
        assert "timed out after 1 s" in letters[0].message


async def test_a_mounted_app_whose_pipeline_is_not_running_answers_503() -> None:
    pipeline, _ = recorder()
    transport = httpx.ASGITransport(app=create_app(pipeline))  # no lifespan: not running
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.post("/events", json={"event_type": "job"})
    assert answer.status_code == 503
    assert "not running" in answer.json()["detail"]


async def test_remote_agents_are_capped() -> None:
    settings = ServerSettings(max_remote_agents=1)
    async with live_server(Pipeline("p"), settings) as live:
        assert (await live.client.post("/agents/a/register", json=pull_body())).status_code == 201
        second = await live.client.post("/agents/b/register", json=pull_body())
        assert second.status_code == 409
        assert "limit of 1 remote agents" in second.json()["detail"]


def test_a_short_secret_from_code_is_refused_without_showing_it() -> None:
    with pytest.raises(ValidationError) as caught:
        Token(name="x", token=SecretStr("supersecre"))
    assert "supersecre" not in str(caught.value)
    assert "shorter than 16" in str(caught.value)


async def test_guessing_tokens_is_rate_limited() -> None:
    settings = ServerSettings(
        tokens=(Token(name="t", token=SecretStr("t" * 20)),),
        rate_limit=RateLimit(rate=1, per=60, burst=3),
    )
    async with live_server(Pipeline("p"), settings) as live:
        wrong = {"authorization": "Bearer " + "w" * 20}
        codes = [(await live.client.get("/stats", headers=wrong)).status_code for _ in range(5)]
        assert codes == [401, 401, 401, 429, 429]
