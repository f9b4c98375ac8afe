"""Trace context in record headers: written by `event_headers`, read back by a source.

Headers are outside input: whatever their bytes, reading them never raises, and only
a well-formed ``traceparent`` ever reaches an event.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from reagents.events import AgentEvent
from reagents.kafka.headers import (
    DEPTH_HEADER,
    read_headers,
    trace_headers,
    with_trace_context,
)
from reagents.sinks.kafka import event_headers
from tests.hostile import hostile

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

keys = st.sampled_from(["traceparent", "tracestate", DEPTH_HEADER, "event_type", "x"])
values = st.one_of(
    st.none(),
    st.binary(max_size=80),
    st.sampled_from([PARENT.encode(), PARENT.upper().encode(), b"k=v", b"\xff\xfe", b"7"]),
)


def test_event_headers_carry_the_trace_context_when_the_event_has_one() -> None:
    traced = AgentEvent(event_type="x", traceparent=PARENT, tracestate="k=v")
    headers = dict(event_headers(traced, depth=2))
    assert headers["traceparent"] == PARENT.encode()
    assert headers["tracestate"] == b"k=v"
    assert headers[DEPTH_HEADER] == b"2"
    plain = dict(event_headers(AgentEvent(event_type="x")))
    assert "traceparent" not in plain
    assert "tracestate" not in plain
    assert trace_headers(AgentEvent(event_type="x", traceparent=PARENT)) == [
        ("traceparent", PARENT.encode())
    ]


def test_read_headers_finds_depth_and_trace_context_in_one_pass() -> None:
    headers = [("event_type", b"x"), ("traceparent", b"tp"), (DEPTH_HEADER, b"3")]
    assert read_headers(headers) == (3, b"tp", None)
    assert read_headers(None) == (0, None, None)


@hostile(300)
@given(st.lists(st.tuples(keys, values), max_size=8))
def test_hostile_headers_never_raise_and_never_plant_a_bad_traceparent(
    headers: list[tuple[str, bytes]],
) -> None:
    depth, parent, state = read_headers(headers)
    assert depth >= 0
    event = AgentEvent(event_type="x")
    if parent is None:
        return
    filled = with_trace_context(event, parent, state)
    if filled.traceparent is not None:
        assert filled.traceparent == parent.decode()
        assert re.fullmatch(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}", parent.decode())
    assert filled.tracestate is None or filled.traceparent is not None
