"""`DeadLetter`: the one record type for an event (or raw bytes) that could not be handled.

Whatever the stage that failed (decode, validation, routing, agent, flow, sink), the record
keeps the original input unchanged, the reason, and how often it was tried, so it can
be listed, understood and replayed later. A failure of user code (an agent, a sink, a
flow callback) also keeps its traceback, so a dead letter says where it failed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from traceback import format_exception

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reagents.events import AgentEvent, new_id, utc_now

__all__ = ["DeadLetter", "FailureStage"]

_MAX_TRACEBACK = 20_000  # characters kept (the end: the innermost frames and the error)


class FailureStage(StrEnum):
    """Where in the pipeline an input failed."""

    DECODE = "decode"
    VALIDATION = "validation"
    ROUTING = "routing"
    AGENT = "agent"
    FLOW = "flow"
    SINK = "sink"


class DeadLetter(BaseModel):
    """An input that failed at ``stage``, with the reason and its retry history.

    Exactly one of ``event`` (a decoded event) and ``raw`` (bytes that never became
    one) is set. In JSON, ``raw`` is base64 so any bytes survive the round trip.
    ``traceback`` is the formatted traceback of the last failure when user code raised
    it (``None`` otherwise, and in records written before the field existed).
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="base64", val_json_bytes="base64"
    )

    dead_letter_id: str = Field(default_factory=new_id)
    stage: FailureStage
    event: AgentEvent | None = None
    raw: bytes | None = None
    origin: str | None = None
    agent_id: str | None = None
    error_type: str
    message: str
    attempts: int = Field(default=1, ge=1)
    first_failure_at: datetime = Field(default_factory=utc_now)
    last_failure_at: datetime = Field(default_factory=utc_now)
    traceback: str | None = None

    @model_validator(mode="after")
    def _one_input(self) -> DeadLetter:
        if (self.event is None) == (self.raw is None):
            raise ValueError("a dead letter holds exactly one of 'event' or 'raw'")
        if self.last_failure_at < self.first_failure_at:
            raise ValueError("last_failure_at is earlier than first_failure_at")
        return self

    @classmethod
    def from_error(
        cls,
        stage: FailureStage,
        error: BaseException,
        *,
        event: AgentEvent | None = None,
        raw: bytes | None = None,
        origin: str | None = None,
        agent_id: str | None = None,
        attempts: int = 1,
        first_failure_at: datetime | None = None,
        with_traceback: bool = False,
        note: str | None = None,
    ) -> DeadLetter:
        """Record ``error`` (its type name and message) for ``event`` or ``raw``.

        ``with_traceback`` keeps where ``error`` was raised (for failures of user code;
        a decode error's traceback would only show reagents' own frames). ``note`` is
        appended to the message in parentheses (e.g. why it was not retried).
        """
        now = utc_now()
        message = str(error) or type(error).__name__
        if note:
            message = f"{message} ({note})"
        return cls(
            stage=stage,
            event=event,
            raw=raw,
            origin=origin,
            agent_id=agent_id,
            error_type=type(error).__name__,
            message=message,
            attempts=attempts,
            first_failure_at=first_failure_at or now,
            last_failure_at=now,
            traceback=_traceback_of(error) if with_traceback else None,
        )

    def to_json(self) -> bytes:
        """One JSONL line (without the newline)."""
        return self.model_dump_json().encode()


def _traceback_of(error: BaseException) -> str | None:
    """``error``'s traceback as Python prints it (with its causes), or ``None`` if it was
    never raised; a very long one keeps its end, where the error is."""
    if error.__traceback__ is None:
        return None
    text = "".join(format_exception(error))
    if len(text) > _MAX_TRACEBACK:
        text = "... (traceback truncated)\n" + text[-_MAX_TRACEBACK:]
    return text
