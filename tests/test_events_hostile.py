"""`decode_event` and `AgentEvent` fed hostile input: typed errors only, in bounded time.

Only `EventDecodeError` may escape `decode_event` (pydantic's `ValidationError` may
escape the model's constructor), whatever the input: arbitrary bytes and text (lone
surrogates too), event-shaped JSON whose values are huge numbers, deep nesting, bad
escapes or times with no UTC equivalent. An event that decodes also encodes again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reagents.errors import EventDecodeError
from reagents.events import AgentEvent, decode_event, encode_event, read_route
from tests.hostile import any_character, hostile


def decodes_or_fails_typed(raw: bytes | str) -> None:
    outcome: AgentEvent | EventDecodeError
    try:
        outcome = decode_event(raw)
    except EventDecodeError as error:
        outcome = error
    if isinstance(outcome, EventDecodeError):
        assert outcome.reason
        assert outcome.raw is not None
    else:
        decode_event(encode_event(outcome))  # what decodes goes back on the wire


@hostile(300)
@given(st.binary(max_size=600))
def test_hostile_bytes(raw: bytes) -> None:
    decodes_or_fails_typed(raw)


@hostile(300)
@given(st.text(any_character, max_size=300))
def test_hostile_text_with_lone_surrogates(text: str) -> None:
    decodes_or_fails_typed(text)


def _number() -> st.SearchStrategy[str]:
    digits = st.text("0123456789", min_size=1, max_size=5000)
    exponent = st.integers(-100_000, 100_000).map(lambda e: f"e{e}")
    return st.one_of(
        st.integers().map(str),
        st.builds(
            lambda s, d, e: f"{s}{d}{e}", st.sampled_from(["", "-"]), digits, exponent | st.just("")
        ),
        st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "0.0e-400", "01"]),
    )


def _string() -> st.SearchStrategy[str]:
    escapes = st.sampled_from(["\\ud800", "\\udfff", "\\ud83d\\ude00", "\\u0000", "\\x41", "\\"])
    plain = st.text(max_size=20).map(lambda t: json.dumps(t)[1:-1])
    return st.lists(plain | escapes, max_size=4).map(lambda parts: '"' + "".join(parts) + '"')


offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
edge_times = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999)
)
hostile_times = st.one_of(
    st.builds(lambda t, z: t.replace(tzinfo=z), edge_times, offsets),
    st.sampled_from([datetime.min, datetime.max]).flatmap(
        lambda t: offsets.map(lambda z: t.replace(tzinfo=z))
    ),
)


def _timestamp() -> st.SearchStrategy[str]:
    return hostile_times.map(lambda t: f'"{t.isoformat()}"')


def _nested(leaf: str) -> st.SearchStrategy[str]:
    return st.tuples(st.integers(0, 400), st.sampled_from(["[", '{"k":'])).map(
        lambda pair: pair[1] * pair[0] + leaf + ("]" if pair[1] == "[" else "}") * pair[0]
    )


def _json_value() -> st.SearchStrategy[str]:
    scalar = _number() | _string() | _timestamp() | st.sampled_from(["null", "true", "{}", "[]"])
    return scalar | scalar.flatmap(_nested)


def _event_members() -> st.SearchStrategy[dict[str, str]]:
    known = {name: _json_value() for name in AgentEvent.model_fields}
    known["timestamp"] = _timestamp() | _json_value()
    return st.fixed_dictionaries({}, optional=known)


unknown_members = st.dictionaries(_string().map(lambda s: s[1:-1]), _json_value(), max_size=2)


@hostile(400)
@given(_event_members(), unknown_members, st.booleans())
def test_hostile_event_shaped_json(
    members: dict[str, str], unknown: dict[str, str], typed: bool
) -> None:
    if typed:
        members.setdefault("event_type", '"hostile"')
    members.update(unknown)
    text = "{" + ",".join(f'"{key}":{value}' for key, value in members.items()) + "}"
    decodes_or_fails_typed(text.encode("utf-8", "surrogatepass"))
    decodes_or_fails_typed(text)


def has_utc_equivalent(when: datetime) -> bool:
    try:
        when.astimezone(UTC)
    except OverflowError:
        return False
    return True


@hostile(200)
@given(hostile_times)
def test_hostile_times_make_an_event_or_a_validation_error(when: datetime) -> None:
    if not has_utc_equivalent(when):
        with pytest.raises(ValidationError, match="out of range"):
            AgentEvent(event_type="a", timestamp=when)
        return
    event = AgentEvent(event_type="a", timestamp=when)
    assert event.timestamp.utcoffset() == timedelta(0)
    assert decode_event(encode_event(event)) == event


def _route_agrees(raw: bytes | str) -> None:
    """`read_route` never raises; where it reads nothing, a full decode fails, and where
    a full decode succeeds it reads the same type and addressees (so a record is skipped
    unread only when it is well-formed JSON whose route was read)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    route = read_route(data)
    try:
        event = decode_event(data)
    except EventDecodeError:
        return
    assert route is not None
    assert route["event_type"] == event.event_type
    assert tuple(route.get("target_agents", ())) == event.target_agents


@hostile(300)
@given(st.binary(max_size=600))
def test_route_of_hostile_bytes(raw: bytes) -> None:
    _route_agrees(raw)


@hostile(300)
@given(st.text(any_character, max_size=300))
def test_route_of_hostile_text(text: str) -> None:
    _route_agrees(text)


@pytest.mark.parametrize(
    "raw",
    [
        b"not json {",
        b"[1, 2]",
        b'{"event_type": ""}',
        b'{"event_type": "   "}',
        b'{"event_type": 7}',
        b'{"payload": {"event_type": "x"}}',
        b'{"event_type": "a", "payload": "\\ud800"}',
        b'{"event_type": "a"} trailing',
        b'{"event_type": "a", "target_agents": "b"}',
        b"\xef\xbb\xbf" + b'{"event_type": "a"}',
    ],
)
def test_a_route_is_not_read_from_what_no_event_could_be(raw: bytes) -> None:
    assert read_route(raw) is None
    with pytest.raises(EventDecodeError):
        decode_event(raw)


def test_the_route_is_the_top_level_type_whatever_the_payload_says() -> None:
    raw = b'{"payload": {"event_type": "x", "target_agents": ["y"]}, "event_type": "order"}'
    route = read_route(raw)
    assert route is not None
    assert route == {"event_type": "order"}
