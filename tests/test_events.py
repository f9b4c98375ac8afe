"""AgentEvent, its wire form and the typed decode error."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reagents.errors import EventDecodeError
from reagents.events import AgentEvent, AgentResponse, decode_event, encode_event


def test_defaults_are_the_articles_fields_with_aware_utc_time() -> None:
    event = AgentEvent(event_type="market_data", payload={"symbol": "AAPL"})
    assert event.priority == 5
    assert event.retry_count == 0
    assert event.max_retries == 3
    assert event.target_agents == ()
    assert event.timestamp.tzinfo is UTC
    assert len(event.event_id) == 36


def test_event_is_frozen() -> None:
    event = AgentEvent(event_type="a")
    with pytest.raises(ValidationError):
        event.priority = 1  # type: ignore[misc]


@pytest.mark.parametrize("priority", [0, 11, -3])
def test_priority_outside_one_to_ten_is_rejected(priority: int) -> None:
    with pytest.raises(ValidationError, match="priority"):
        AgentEvent(event_type="a", priority=priority)


@pytest.mark.parametrize("event_type", ["", "   "])
def test_blank_event_type_is_rejected(event_type: str) -> None:
    with pytest.raises(ValidationError, match="event_type"):
        AgentEvent(event_type=event_type)


def test_timestamps_are_normalised_to_utc() -> None:
    eastern = timezone(timedelta(hours=-5))
    event = AgentEvent(event_type="a", timestamp=datetime(2026, 1, 1, 7, 0, tzinfo=eastern))
    assert event.timestamp == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert event.timestamp.utcoffset() == timedelta(0)
    naive = AgentEvent(event_type="a", timestamp=datetime(2026, 1, 1, 12, 0))
    assert naive.timestamp == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_derive_keeps_the_conversation_and_records_the_cause() -> None:
    root = AgentEvent(event_type="order.created", priority=2, payload={"id": 1})
    child = root.derive("inventory.reserved", {"id": 1}, source_agent="inventory")
    grandchild = child.derive("payment.requested", source_agent="payment")
    assert child.correlation_id == root.event_id
    assert child.causation_id == root.event_id
    assert child.priority == 2
    assert child.source_agent == "inventory"
    assert grandchild.correlation_id == root.event_id
    assert grandchild.causation_id == child.event_id
    assert child.event_id != root.event_id


def test_derive_keeps_an_existing_correlation_id() -> None:
    root = AgentEvent(event_type="a", correlation_id="conv-1")
    assert root.derive("b").correlation_id == "conv-1"


def test_with_retry_counts_up_and_refreshes_cached_views() -> None:
    event = AgentEvent(event_type="a", payload={"x": 1})
    assert event.as_dict["retry_count"] == 0
    retried = event.with_retry()
    assert retried.retry_count == 1
    assert retried.event_id == event.event_id
    assert retried.as_dict["retry_count"] == 1


def test_wire_round_trip() -> None:
    event = AgentEvent(
        event_type="trade_signal",
        source_agent="trader",
        target_agents=("risk",),
        priority=1,
        payload={"symbol": "MSFT", "qty": 10, "nested": {"a": [1, 2.5, None]}},
        correlation_id="c",
        causation_id="p",
    )
    wire = encode_event(event)
    assert json.loads(wire)["event_type"] == "trade_signal"
    assert decode_event(wire) == event
    assert decode_event(wire.decode()) == event
    assert decode_event(bytearray(wire)) == event


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b'{"payload": {}}', "event_type: Field required"),
        (b'{"event_type": "a", "priority": 11}', "priority: Input should be less than or equal"),
        (b'{"event_type": "a", "bogus": 1}', "bogus: Extra inputs are not permitted"),
        (b'{"event_type": "a", "timestamp": "yesterday"}', "timestamp"),
    ],
)
def test_bad_input_raises_one_typed_error_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(EventDecodeError) as caught:
        decode_event(raw)
    assert reason in caught.value.reason
    assert caught.value.raw == raw
    assert "pydantic" not in str(caught.value)


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_the_typed_decode_error(raw: bytes) -> None:
    try:
        outcome: object = decode_event(raw)
    except EventDecodeError as error:
        outcome = error.reason
    assert isinstance(outcome, AgentEvent) or (isinstance(outcome, str) and outcome)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(list(AgentEvent.model_fields)) | st.text(), json_values))
def test_random_json_objects_only_raise_the_typed_decode_error(data: dict[str, object]) -> None:
    try:
        outcome: object = decode_event(json.dumps(data))
    except EventDecodeError as error:
        outcome = error.reason
    assert isinstance(outcome, AgentEvent) or str(outcome).startswith("not a valid event")


@pytest.mark.parametrize(
    ("text", "raw"),
    [
        ('{"event_type": "a\ud800"}', b'{"event_type": "a\xed\xa0\x80"}'),
        ("\ud800", b"\xed\xa0\x80"),
        # text read with errors="surrogateescape" keeps its original bytes
        (
            '{"event_type": "a", "payload": {"k": "\udcff"}}',
            b'{"event_type": "a", "payload": {"k": "\xff"}}',
        ),
    ],
)
def test_a_str_with_a_lone_surrogate_is_a_typed_decode_error(text: str, raw: bytes) -> None:
    with pytest.raises(EventDecodeError, match="lone surrogate") as caught:
        decode_event(text)
    assert caught.value.reason.startswith("not UTF-8 text")
    assert caught.value.raw == raw


@pytest.mark.parametrize("stamp", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_a_timestamp_with_no_utc_equivalent_is_a_typed_decode_error(stamp: str) -> None:
    raw = json.dumps({"event_type": "a", "timestamp": stamp}).encode()
    with pytest.raises(EventDecodeError, match="timestamp") as caught:
        decode_event(raw)
    assert "out of range" in caught.value.reason
    assert caught.value.raw == raw


def test_an_event_whose_time_has_no_utc_equivalent_is_a_validation_error() -> None:
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59)))
    with pytest.raises(ValidationError, match="out of range"):
        AgentEvent(event_type="a", timestamp=late)
    with pytest.raises(ValidationError, match="out of range"):
        AgentResponse(original_event_id="e", agent_id="a", timestamp=late)


def test_response_defaults() -> None:
    response = AgentResponse(original_event_id="e", agent_id="a", result={"ok": True})
    assert response.status == "success"
    assert response.timestamp.tzinfo is UTC
    with pytest.raises(ValidationError, match="status"):
        AgentResponse(original_event_id="e", agent_id="a", status="maybe")


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_trace_context_is_written_only_when_set_and_inherited_by_reactions() -> None:
    plain = AgentEvent(event_type="a")
    assert "traceparent" not in plain.model_dump_json()
    traced = AgentEvent(event_type="a", traceparent=TRACEPARENT, tracestate="k=v")
    again = AgentEvent.model_validate_json(traced.model_dump_json())
    assert (again.traceparent, again.tracestate) == (TRACEPARENT, "k=v")
    child = traced.derive("b")
    assert (child.traceparent, child.tracestate) == (TRACEPARENT, "k=v")


@pytest.mark.parametrize(
    "value",
    [
        "junk",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  # all-zero trace id
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  # all-zero span id
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  # upper case
        12,
    ],
)
def test_a_malformed_traceparent_is_ignored_not_fatal(value: object) -> None:
    # W3C trace context: receivers ignore a traceparent they cannot parse.
    event = AgentEvent.model_validate({"event_type": "a", "traceparent": value})
    assert event.traceparent is None
