"""The CloudEvents <-> AgentEvent mapping: round trips, the table, hostile bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from reagents.errors import EventDecodeError
from reagents.events import AgentEvent
from reagents.server.bodies import BadEvents, UnsupportedMediaType, decode_body
from reagents.server.cloudevents import from_cloudevent, to_cloudevent

text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
trace_ids = st.from_regex(r"00-[0-9a-f]{31}[1-9a-f]-[0-9a-f]{15}[1-9a-f]-0[01]", fullmatch=True)

agent_events = st.builds(
    AgentEvent,
    event_id=text,
    event_type=text.filter(lambda t: not t.isspace()),
    source_agent=text,
    target_agents=st.lists(text, max_size=3).map(tuple),
    priority=st.integers(1, 10),
    payload=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    timestamp=st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)
    ),
    correlation_id=st.none() | text,
    causation_id=st.none() | text,
    retry_count=st.integers(0, 100),
    max_retries=st.integers(0, 100),
    traceparent=st.none() | trace_ids,
    tracestate=st.none() | st.from_regex(r"[a-z]{1,8}=[a-z0-9]{1,8}", fullmatch=True),
)


@given(agent_events)
@settings(max_examples=200)
def test_an_event_survives_structured_and_binary_cloudevents(event: AgentEvent) -> None:
    structured = to_structured_event(to_cloudevent(event))
    binary = to_binary_event(to_cloudevent(event))
    for message in (structured, binary):
        headers = {name.lower(): value for name, value in message.headers.items()}
        decoded = decode_body(message.body, headers)
        assert decoded.events == [event]
        assert decoded.ignored == {}


@given(agent_events)
@settings(max_examples=100)
def test_from_and_to_cloudevent_are_inverse(event: AgentEvent) -> None:
    cloud = to_cloudevent(event)
    back, ignored = from_cloudevent(cloud)
    assert (back, ignored) == (event, [])
    again = to_cloudevent(back)
    assert again.get_attributes() == cloud.get_attributes()
    assert again.get_data() == cloud.get_data()


def test_the_mapping_table() -> None:
    event = AgentEvent(
        event_id="e1",
        event_type="order.created",
        source_agent="shop",
        target_agents=("billing", "ship,ping"),
        priority=2,
        payload={"sku": "a"},
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        correlation_id="c1",
        causation_id="e0",
        traceparent="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    )
    attributes = to_cloudevent(event).get_attributes()
    assert attributes == {
        "specversion": "1.0",
        "id": "e1",
        "type": "order.created",
        "source": "shop",
        "time": event.timestamp,
        "datacontenttype": "application/json",
        "priority": 2,
        "correlationid": "c1",
        "causationid": "e0",
        "targetagents": "billing,ship%2Cping",
        "traceparent": event.traceparent,
    }
    assert to_cloudevent(AgentEvent(event_type="x", source_agent="")).get_source() == "external"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        ([1, 2], "a JSON array"),
        ("hello", "text"),
        (b"\x00\x01", "binary data"),
        (3, "a JSON number"),
    ],
)
def test_data_that_is_not_an_object_is_refused_with_its_kind(data: object, kind: str) -> None:
    cloud = CloudEvent({"type": "t", "source": "s"}, data)  # type: ignore[arg-type]
    with pytest.raises(EventDecodeError, match=f"must be a JSON object.*got {kind}"):
        from_cloudevent(cloud)


def test_absent_data_is_an_empty_payload_and_unknown_attributes_are_named() -> None:
    cloud = CloudEvent({"type": "t", "source": "s", "subject": "x", "region": "eu"}, None)
    event, ignored = from_cloudevent(cloud)
    assert event.payload == {}
    assert ignored == ["region", "subject"]


def test_a_malformed_traceparent_is_dropped_not_refused() -> None:
    cloud = CloudEvent({"type": "t", "source": "s", "traceparent": "garbage"}, {})
    assert from_cloudevent(cloud)[0].traceparent is None


media = st.sampled_from(
    [
        "application/json",
        "application/x-ndjson",
        "application/cloudevents+json",
        "application/cloudevents-batch+json",
        "text/plain",
    ]
)
bodies = st.binary(max_size=200) | st.builds(
    lambda v: json.dumps(v).encode(),
    json_values
    | st.lists(
        st.dictionaries(
            st.sampled_from(["type", "source", "id", "time", "data", "specversion", "event_type"]),
            json_values,
        )
    ),
)
ce_headers = st.dictionaries(
    st.sampled_from(["ce-specversion", "ce-type", "ce-source", "ce-id", "ce-time", "ce-priority"]),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
)


@given(bodies, media, ce_headers)
@settings(max_examples=400)
def test_hostile_bodies_only_raise_the_typed_errors(
    body: bytes, content_type: str, extra: dict[str, str]
) -> None:
    reason = ""
    try:
        events = decode_body(body, {"content-type": content_type, **extra}).events
    except (BadEvents, UnsupportedMediaType) as error:
        events, reason = [], str(error)
    assert bool(events) != bool(reason)  # events, or a reason why not
    assert all(isinstance(e, AgentEvent) for e in events)
