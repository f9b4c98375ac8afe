"""``/events/stream`` and ``/stats/stream`` over a real socket: filtering, heartbeats,
slow clients dropped with a reason, disconnects cleaned up, bad filters refused."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

from fastapi import HTTPException
from hypothesis import given
from hypothesis import strategies as st

from reagents import AgentEvent, Pipeline
from reagents.pipelines.tap import EventTap
from reagents.server import ServerSettings
from reagents.server.sse import sse_message
from reagents.server.stream import parse_where
from tests.server.live import LiveServer, live_server
from tests.server.sse import Message, messages, parse_block


def _observers(pipeline: Pipeline) -> int:
    tap = pipeline.events
    assert isinstance(tap, EventTap)
    return len(tap.observers)


async def _until(check: object, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not callable(check) or not check():
            await asyncio.sleep(0.01)


async def _events_only(stream: AsyncIterator[Message]) -> AsyncIterator[Message]:
    async for message in stream:
        if message.comment is None:
            yield message


async def test_events_matching_where_arrive_as_sse_messages() -> None:
    pipeline = Pipeline("p")
    async with live_server(pipeline) as live:
        params = {"where": "type = order.* AND priority < 5"}
        async with live.client.stream("GET", "/events/stream", params=params) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            await _until(lambda: _observers(pipeline) == 1)
            sent = [
                AgentEvent(event_type="order.created", priority=2, payload={"n": 1}),
                AgentEvent(event_type="order.created", priority=9, payload={"n": 2}),
                AgentEvent(event_type="ping", priority=1),
                AgentEvent(event_type="order.paid", priority=1, payload={"n": 3}),
            ]
            for event in sent:
                pipeline.publish(event)
            got: list[Message] = []
            async for message in _events_only(messages(response)):
                got.append(message)
                if len(got) == 2:
                    break
    assert [m.event for m in got] == ["event", "event"]
    received = [AgentEvent.model_validate_json(m.data) for m in got]
    assert [e.payload["n"] for e in received] == [1, 3]
    assert [m.id for m in got] == [sent[0].event_id, sent[3].event_id]
    assert received[0] == sent[0]


async def test_a_bad_where_is_422_with_the_parsers_message_before_any_stream() -> None:
    pipeline = Pipeline("p")
    async with live_server(pipeline) as live:
        answer = await live.client.get("/events/stream", params={"where": "type = = x"})
        assert answer.status_code == 422
        assert answer.headers["content-type"] == "application/json"
        detail = answer.json()["detail"]
        assert detail.startswith("where: ")
        assert "position 7" in detail
        assert _observers(pipeline) == 0


async def test_heartbeats_keep_an_idle_stream_talking() -> None:
    async with live_server(Pipeline("p")) as live:
        params = {"heartbeat": "0.05"}
        async with live.client.stream("GET", "/events/stream", params=params) as response:
            comments = []
            async with asyncio.timeout(5):
                async for message in messages(response):
                    comments.append(message.comment)
                    if comments.count("heartbeat") == 3:
                        break
    assert comments[0] == "reagents event stream"


async def test_a_disconnected_client_is_unsubscribed() -> None:
    pipeline = Pipeline("p")
    async with live_server(pipeline) as live:
        for _ in range(3):
            async with live.client.stream("GET", "/events/stream") as response:
                assert response.status_code == 200
                await _until(lambda: _observers(pipeline) == 1)
            await _until(lambda: _observers(pipeline) == 0)
        pipeline.publish(AgentEvent(event_type="after"))
        await pipeline.wait_idle()
        assert pipeline.counters.subscriber_failures == 0


def _slow_client(live: LiveServer, path: str) -> socket.socket:
    """A client with a tiny receive window that sends a request and then reads nothing."""
    host, port = live.url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


async def test_a_client_that_falls_behind_is_dropped_with_a_reason() -> None:
    pipeline = Pipeline("p")
    settings = ServerSettings(stream_buffer=50)
    async with live_server(pipeline, settings) as live:
        sock = _slow_client(live, "/events/stream")
        try:
            await _until(lambda: _observers(pipeline) == 1)
            blob = "x" * 20_000  # the socket buffers fill after a few hundred of these
            sent = 0
            while _observers(pipeline) and sent < 5000:
                for _ in range(20):
                    pipeline.publish(AgentEvent(event_type="big", payload={"blob": blob}))
                sent += 20
                await pipeline.wait_idle()
            assert _observers(pipeline) == 0, "the slow client was never dropped"
            assert sent < 5000
            received = await asyncio.to_thread(_read_all, sock)
        finally:
            sock.close()
    text = received.decode()
    assert text.count("event: event") < sent  # not everything reached it: it was dropped
    final = parse_block(text.rstrip("\r\n0").rstrip().rsplit("\n\n", 1)[-1])
    assert final.event == "error"
    assert "fell 50 events behind" in final.json()["reason"]


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
        if chunk.endswith(b"0\r\n\r\n"):  # the chunked body's end
            break
    return b"".join(chunks)


async def test_stats_stream_sends_snapshots_at_the_interval() -> None:
    pipeline = Pipeline("p")

    @pipeline.agent(id="echo", subscription="type = ping")
    def echo(event: AgentEvent) -> None:
        return None

    async with live_server(pipeline) as live:
        params = {"interval": "0.05"}
        async with live.client.stream("GET", "/stats/stream", params=params) as response:
            snapshots = []
            async for message in _events_only(messages(response)):
                assert message.event == "stats"
                snapshots.append(message.json())
                if len(snapshots) == 1:
                    pipeline.publish(AgentEvent(event_type="ping"))
                if snapshots[-1]["agents"]["echo"]["processed"] == 1:
                    break
    assert snapshots[0]["pipeline"] == "p"
    assert snapshots[-1]["monotonic"] > snapshots[0]["monotonic"]
    assert snapshots[-1]["bus"]["ingested"] >= 1


async def test_streams_need_the_read_scope() -> None:
    from tests.server.test_app import READER, _settings

    async with live_server(Pipeline("p"), _settings()) as live:
        assert (await live.client.get("/events/stream")).status_code == 401
        assert (await live.client.get("/stats/stream")).status_code == 401
        headers = live.authed(READER)
        async with live.client.stream("GET", "/stats/stream", headers=headers) as response:
            assert response.status_code == 200


@given(st.text(max_size=300))
def test_any_where_text_compiles_or_is_a_422(text: str) -> None:
    try:
        parse_where(text)
    except HTTPException as error:
        caught: HTTPException | None = error
    else:
        caught = None
    if caught is not None:
        assert (caught.status_code, str(caught.detail)[:7]) == (422, "where: ")


@given(
    st.sampled_from(["event", "error", "stats"]),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
)
def test_any_text_survives_sse_framing(kind: str, text: str) -> None:
    block = sse_message(kind, text).decode()
    assert block.endswith("\n\n")
    assert block.count("\n\n") == 1  # the message ends there, and only there
    message = parse_block(block[:-2])
    assert message.event == kind
    assert message.data == text.replace("\r\n", "\n").replace("\r", "\n")
