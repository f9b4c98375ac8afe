"""Kafka record values → events, or the dead letters of the ones that do not decode.

A tombstone (no value) or a value the decoder rejects becomes a decode `DeadLetter`
whose origin is ``topic[n]@offset``; a value that is itself a dead letter (read back
from a dead-letter topic) is replayed as the event it failed with.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import ValidationError

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, decode_event

__all__ = ["Decoder", "decode_value"]

Decoder = Callable[[bytes], AgentEvent]
_DEAD_LETTER_KEY = b'"dead_letter_id"'


def decode_value(
    value: bytes | None, place: str, offset: int, decode: Decoder
) -> AgentEvent | DeadLetter:
    """The event in a record's ``value``, else its decode dead letter (whose origin is
    ``place`` and ``offset``: ``topic[n]@offset``)."""
    if value is None:
        origin = f"{place}{offset}"
        error = ValueError("empty record (a tombstone): no event")
        return DeadLetter.from_error(FailureStage.DECODE, error, raw=b"", origin=origin)
    try:
        return decode(value)
    except Exception as error:  # any decoder failure becomes a dead letter
        origin = f"{place}{offset}"
        if _DEAD_LETTER_KEY in value:
            replayed = _replayed(value)
            if replayed is not None:
                return replayed
        return DeadLetter.from_error(FailureStage.DECODE, error, raw=value, origin=origin)


def _replayed(value: bytes) -> AgentEvent | DeadLetter | None:
    """A dead-letter record (from a dead-letter topic) as the event to try again."""
    try:
        letter = DeadLetter.model_validate_json(value)
    except ValidationError:
        return None
    if letter.event is not None:
        return letter.event.model_copy(update={"retry_count": 0})
    try:
        return decode_event(letter.raw or b"")
    except Exception:  # still bad: the original dead letter again
        return letter
