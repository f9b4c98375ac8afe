"""DeadLetter: one record for every failure stage, lossless in JSON."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent


@given(st.binary(max_size=100))
def test_raw_bytes_survive_the_json_round_trip(raw: bytes) -> None:
    letter = DeadLetter.from_error(FailureStage.DECODE, ValueError("x"), raw=raw)
    assert DeadLetter.model_validate_json(letter.to_json()).raw == raw


def test_agent_failure_keeps_the_event_and_the_reason() -> None:
    event = AgentEvent(event_type="order.created", payload={"id": 7})
    letter = DeadLetter.from_error(
        FailureStage.AGENT, KeyError("sku"), event=event, agent_id="inventory", attempts=4
    )
    again = DeadLetter.model_validate_json(letter.to_json())
    assert again.event == event
    assert again.stage is FailureStage.AGENT
    assert again.error_type == "KeyError"
    assert again.message == "'sku'"
    assert again.attempts == 4
    assert again.first_failure_at <= again.last_failure_at


def test_exactly_one_input_is_required() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        DeadLetter(stage=FailureStage.ROUTING, error_type="E", message="m")
    with pytest.raises(ValidationError, match="exactly one"):
        DeadLetter(
            stage=FailureStage.ROUTING,
            error_type="E",
            message="m",
            raw=b"x",
            event=AgentEvent(event_type="a"),
        )


def test_an_error_without_message_is_named_by_its_type() -> None:
    letter = DeadLetter.from_error(FailureStage.SINK, TimeoutError(), raw=b"")
    assert letter.message == "TimeoutError"
