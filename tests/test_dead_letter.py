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


def _raise_in_handler() -> None:
    raise KeyError("sku")


def test_a_traceback_is_kept_on_request_and_survives_the_round_trip() -> None:
    try:
        _raise_in_handler()
    except KeyError as error:
        caught = error
    event = AgentEvent(event_type="order.created")
    kept = DeadLetter.from_error(FailureStage.AGENT, caught, event=event, with_traceback=True)
    assert kept.traceback is not None
    assert "_raise_in_handler" in kept.traceback
    assert kept.traceback.rstrip().endswith("KeyError: 'sku'")
    assert DeadLetter.model_validate_json(kept.to_json()).traceback == kept.traceback
    assert DeadLetter.from_error(FailureStage.AGENT, caught, event=event).traceback is None


def test_an_error_never_raised_has_no_traceback() -> None:
    letter = DeadLetter.from_error(
        FailureStage.AGENT, TimeoutError("late"), raw=b"", with_traceback=True
    )
    assert letter.traceback is None


def test_a_very_long_traceback_keeps_its_end() -> None:
    def ping(n: int) -> None:  # ping and pong alternate: Python cannot fold the frames
        if n == 0:
            raise ValueError("at the bottom")
        pong(n - 1)

    def pong(n: int) -> None:
        ping(n)

    try:
        ping(300)
    except ValueError as error:
        caught = error
    letter = DeadLetter.from_error(FailureStage.AGENT, caught, raw=b"", with_traceback=True)
    assert letter.traceback is not None
    assert letter.traceback.startswith("... (traceback truncated)")
    assert letter.traceback.rstrip().endswith("ValueError: at the bottom")
    assert len(letter.traceback) < 21_000


def test_a_note_is_appended_to_the_message() -> None:
    letter = DeadLetter.from_error(FailureStage.AGENT, ValueError("bad"), raw=b"", note="why")
    assert letter.message == "bad (why)"


def test_records_written_before_the_traceback_field_still_read() -> None:
    old = (
        b'{"dead_letter_id":"d1","stage":"agent","event":null,"raw":"eA==","origin":null,'
        b'"agent_id":"a","error_type":"ValueError","message":"m","attempts":1,'
        b'"first_failure_at":"2024-05-01T12:00:00Z","last_failure_at":"2024-05-01T12:00:00Z"}'
    )
    letter = DeadLetter.model_validate_json(old)
    assert (letter.raw, letter.traceback) == (b"x", None)
