"""``POST /events`` over a real socket: the five body forms, scope, trace context, errors."""

from __future__ import annotations

import json

import httpx
import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from pydantic import BaseModel

from reagents import Pipeline
from reagents.events import AgentEvent, encode_event
from reagents.schemas import PayloadSchemas
from reagents.server.cloudevents import to_cloudevent
from tests.server.ingest_helpers import PUBLISHER, READER, TRACE, handled, recording, settings
from tests.server.live import LiveServer, live_server


class Order(BaseModel):
    sku: str
    qty: int


async def post(
    live: LiveServer, content: bytes, content_type: str, **headers: str
) -> httpx.Response:
    headers = {"Content-Type": content_type, **live.authed(PUBLISHER), **headers}
    return await live.client.post("/events", content=content, headers=headers)


def events(count: int, event_type: str = "order.created") -> list[AgentEvent]:
    return [
        AgentEvent(event_type=event_type, payload={"sku": f"s{n}", "qty": n}) for n in range(count)
    ]


async def test_one_event_is_accepted_with_its_id_once_queued() -> None:
    pipeline, seen = recording()
    event = events(1)[0]
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, encode_event(event), "application/json")
        assert answer.status_code == 202
        assert answer.json() == {"ids": [event.event_id], "published": 1, "duplicates": []}
        assert await handled(pipeline, seen, 1) == [event]


@pytest.mark.parametrize("form", ["array", "ndjson"])
async def test_a_batch_keeps_its_order(form: str) -> None:
    pipeline, seen = recording()
    batch = events(5)
    if form == "array":
        body = b"[" + b",".join(encode_event(e) for e in batch) + b"]"
        kind = "application/json"
    else:
        body = b"\n".join(encode_event(e) for e in batch) + b"\n\n"
        kind = "application/x-ndjson"
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, body, kind)
        assert answer.status_code == 202
        assert answer.json()["ids"] == [e.event_id for e in batch]
        assert await handled(pipeline, seen, 5) == batch


async def test_cloudevents_structured_batch_and_binary_modes() -> None:
    pipeline, seen = recording()
    one, two, three, four = events(4)
    structured = to_structured_event(to_cloudevent(one))
    binary = to_binary_event(to_cloudevent(two))
    batch = json.dumps(
        [json.loads(to_structured_event(to_cloudevent(e)).body) for e in (three, four)]
    ).encode()
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, structured.body, structured.headers["content-type"])
        assert (answer.status_code, answer.json()["ids"]) == (202, [one.event_id])
        answer = await post(live, binary.body, "application/json", **binary.headers)
        assert (answer.status_code, answer.json()["ids"]) == (202, [two.event_id])
        answer = await post(live, batch, "application/cloudevents-batch+json")
        assert (answer.status_code, answer.json()["ids"]) == (202, [three.event_id, four.event_id])
        assert await handled(pipeline, seen, 4) == [one, two, three, four]


async def test_binary_cloudevent_by_hand_with_curl_style_headers() -> None:
    pipeline, seen = recording()
    headers = {
        "ce-specversion": "1.0",
        "ce-id": "evt-1",
        "ce-type": "order.created",
        "ce-source": "shop",
        "ce-priority": "2",
        "ce-targetagents": "recorder",
        "ce-subject": "order/17",
    }
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, b'{"sku": "a", "qty": 1}', "application/json", **headers)
        assert answer.status_code == 202, answer.text
        assert answer.json()["ignored_attributes"] == {"evt-1": ["subject"]}
        (event,) = await handled(pipeline, seen, 1)
    assert (event.event_id, event.source_agent, event.priority) == ("evt-1", "shop", 2)
    assert event.target_agents == ("recorder",)
    assert event.payload == {"sku": "a", "qty": 1}


async def test_publishing_needs_the_publish_scope() -> None:
    pipeline, seen = recording()
    body = encode_event(events(1)[0])
    async with live_server(pipeline, settings()) as live:
        anonymous = await live.client.post("/events", content=body)
        assert anonymous.status_code == 401
        reader = await live.client.post("/events", content=body, headers=live.authed(READER))
        assert reader.status_code == 403
    assert seen == []


async def test_the_requests_traceparent_goes_into_events_without_one() -> None:
    pipeline, seen = recording()
    own = "00-11111111111111111111111111111111-2222222222222222-01"
    bare, traced = events(2)
    traced = traced.model_copy(update={"traceparent": own})
    body = b"[" + encode_event(bare) + b"," + encode_event(traced) + b"]"
    async with live_server(pipeline, settings()) as live:
        answer = await post(
            live, body, "application/json", traceparent=TRACE, tracestate="vendor=1"
        )
        assert answer.status_code == 202
        got = await handled(pipeline, seen, 2)
    assert [(e.traceparent, e.tracestate) for e in got] == [(TRACE, "vendor=1"), (own, None)]


@pytest.mark.parametrize(
    ("body", "kind", "reason"),
    [
        (b"{nope", "application/json", "not valid JSON"),
        (b"[1]", "application/json", "event #0: not a JSON object"),
        (b'{"event_type": ""}', "application/json", "not a valid event: event_type"),
        (b'{"event_type": "x", "colour": 1}', "application/json", "colour: Extra inputs"),
        (b"[]", "application/json", "the batch is empty"),
        (b'{"type": "x"}', "application/cloudevents+json", "source: Missing required"),
        (
            b'{"type": "x", "source": "s", "specversion": "1.0", "data": [1]}',
            "application/cloudevents+json",
            "data must be a JSON object",
        ),
        (
            b'{"type": "x", "source": "s", "specversion": "1.0", "time": "soon"}',
            "application/cloudevents+json",
            "time: not an RFC 3339 timestamp",
        ),
        (b'{"a": 1}', "application/cloudevents-batch+json", "a batch must be a JSON array"),
    ],
)
async def test_bad_bodies_are_422_with_the_reason(body: bytes, kind: str, reason: str) -> None:
    pipeline, seen = recording()
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, body, kind)
    assert answer.status_code == 422
    assert reason in answer.json()["detail"]
    assert seen == []


async def test_a_batch_is_all_or_nothing_and_names_every_bad_item() -> None:
    schemas = PayloadSchemas({"order.created": Order})
    pipeline, seen = recording(schemas)
    good = events(4)
    bad = AgentEvent(event_type="order.created", payload={"sku": "x"})
    lines = [encode_event(good[0]), encode_event(bad), b'{"event_type": 3}', encode_event(good[1])]
    async with live_server(pipeline, settings()) as live:
        answer = await post(live, b"\n".join(lines), "application/x-ndjson")
        assert answer.status_code == 422
        assert answer.json()["errors"] == [
            {
                "index": 2,
                "reason": "not a valid event: event_type: Input should be a valid string (got 3)",
            },
        ]
        schema_only = b"\n".join([encode_event(good[0]), encode_event(bad)])
        answer = await post(live, schema_only, "application/x-ndjson")
        assert answer.status_code == 422
        detail = answer.json()["detail"]
        assert (
            detail == "event #1: payload of 'order.created' is invalid: payload.qty: Field required"
        )
        assert (await post(live, encode_event(good[2]), "application/json")).status_code == 202
        assert await handled(pipeline, seen, 1) == [good[2]]


async def test_an_unknown_content_type_is_415() -> None:
    async with live_server(Pipeline("p"), settings()) as live:
        answer = await post(live, b"<event/>", "application/xml")
    assert answer.status_code == 415
    assert "application/x-ndjson" in answer.json()["detail"]


async def test_a_body_over_the_limit_is_413_on_events() -> None:
    pipeline, seen = recording()
    batch = events(40)
    body = b"[" + b",".join(encode_event(e) for e in batch) + b"]"
    assert len(body) > 2048
    async with live_server(pipeline, settings(max_body_bytes=2048)) as live:
        answer = await post(live, body, "application/json")
        assert answer.status_code == 413
        assert "2,048 bytes" in answer.json()["detail"]
    assert seen == []
