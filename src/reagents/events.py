"""The event model every source, operator, agent and sink speaks, and its JSON wire form.

`AgentEvent` is immutable: a reaction is a new event made with `AgentEvent.derive`,
which keeps the conversation's ``correlation_id`` and records the parent as
``causation_id``, so a chain of reactions can always be traced back.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from typing_extensions import TypedDict

from reagents.errors import EventDecodeError, describe_validation_error

__all__ = [
    "AgentEvent",
    "AgentResponse",
    "EventRoute",
    "as_utc",
    "decode_event",
    "encode_event",
    "new_id",
    "read_route",
    "utc_now",
]


def new_id() -> str:
    """A fresh random identifier (uuid4, as text)."""
    return str(uuid.uuid4())


def utc_now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


_PAYLOAD_ADAPTER: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive time is taken to be UTC already.

    Raises `ValueError` (so pydantic reports it as a validation error) for an aware
    time that has no UTC equivalent: ``9999-12-31T23:59:59-23:59`` is past year 9999.
    """
    # A naive timestamp is read as UTC (that is what the article's producers wrote);
    # an aware one is converted, so every event in reagents compares on one clock.
    # A zero offset is kept as it is (whatever its tzinfo object) to keep decoding cheap.
    offset = value.utcoffset()
    if offset is None:
        return value.replace(tzinfo=UTC)
    if not offset:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} is out of range once converted to UTC (years 1 to 9999)"
        ) from None


_TRACEPARENT = re.compile(r"[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}")
_MAX_TRACESTATE = 512


def _absent(value: object) -> bool:
    return value is None


class AgentEvent(BaseModel):
    """One thing that happened, addressed to whichever agents care about it.

    ``priority`` runs from 1 (most urgent) to 10 (least); ``target_agents`` empty
    means "anyone subscribed". Unknown fields are rejected so typos surface early.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    event_id: str = Field(default_factory=new_id, min_length=1)
    event_type: str = Field(min_length=1)
    source_agent: str = "external"
    target_agents: tuple[str, ...] = ()
    priority: int = Field(default=5, ge=1, le=10)
    payload: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utc_now)
    correlation_id: str | None = None
    causation_id: str | None = None
    retry_count: int = Field(default=0, ge=0)
    max_retries: int = Field(default=3, ge=0)
    traceparent: str | None = Field(default=None, exclude_if=_absent)
    """W3C trace context of the span this event belongs to (written only when set)."""
    tracestate: str | None = Field(default=None, exclude_if=_absent)
    """W3C vendor trace state that goes with ``traceparent`` (written only when set)."""

    @field_validator("traceparent", mode="before")
    @classmethod
    def _valid_traceparent(cls, value: object) -> object:
        # W3C trace context: a receiver ignores a malformed traceparent, never fails on it.
        if value is None or (isinstance(value, str) and _TRACEPARENT.fullmatch(value)):
            return value
        return None

    @field_validator("tracestate", mode="before")
    @classmethod
    def _valid_tracestate(cls, value: object) -> object:
        if isinstance(value, str) and len(value) <= _MAX_TRACESTATE and value.isprintable():
            return value
        return None

    @field_validator("event_type")
    @classmethod
    def _type_has_text(cls, value: str) -> str:
        if value.isspace():
            raise ValueError("event_type must not be blank")
        return value

    @field_validator("timestamp")
    @classmethod
    def _timestamp_in_utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @property
    def conversation_id(self) -> str:
        """The correlation id, or this event's own id when it starts a conversation."""
        return self.correlation_id or self.event_id

    @cached_property
    def payload_json(self) -> str:
        """The payload as compact JSON text, computed once (content filters search it)."""
        return _PAYLOAD_ADAPTER.dump_json(self.payload).decode()

    @cached_property
    def as_dict(self) -> dict[str, Any]:
        """The event as plain JSON-compatible data, computed once (JSONPath runs on it)."""
        return self.model_dump(mode="json")

    def derive(
        self,
        event_type: str,
        payload: dict[str, Any] | None = None,
        *,
        source_agent: str | None = None,
        **fields: Any,
    ) -> AgentEvent:
        """A child event reacting to this one: same conversation, caused by this event.

        ``source_agent`` defaults to this event's source; the runtime sets it to the
        reacting agent's id. Any other field may be overridden by keyword.
        """
        values: dict[str, Any] = {
            "event_type": event_type,
            "payload": payload if payload is not None else {},
            "source_agent": source_agent if source_agent is not None else self.source_agent,
            "priority": self.priority,
            "correlation_id": self.conversation_id,
            "causation_id": self.event_id,
            "traceparent": self.traceparent,
            "tracestate": self.tracestate,
        }
        values.update(fields)
        return AgentEvent(**values)

    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> AgentEvent:
        """A copy with ``update`` applied, without the cached views of the original."""
        copy = super().model_copy(update=update, deep=deep)
        for name in _CACHED_VIEWS:
            copy.__dict__.pop(name, None)
        return copy

    def with_retry(self) -> AgentEvent:
        """This event with ``retry_count`` one higher (the id stays: it is the same event)."""
        return self.model_copy(update={"retry_count": self.retry_count + 1})


_CACHED_VIEWS = ("payload_json", "as_dict")


class AgentResponse(BaseModel):
    """What an agent reports about handling one event (the payload of ``agent_response``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    response_id: str = Field(default_factory=new_id)
    original_event_id: str
    agent_id: str
    status: Literal["success", "failure", "partial"] = "success"
    result: dict[str, Any] = Field(default_factory=dict)
    timestamp: datetime = Field(default_factory=utc_now)
    processing_time_ms: float = Field(default=0.0, ge=0)

    @field_validator("timestamp")
    @classmethod
    def _timestamp_in_utc(cls, value: datetime) -> datetime:
        return as_utc(value)


_validate_json = AgentEvent.__pydantic_validator__.validate_json


class EventRoute(TypedDict):
    """What routing needs of an event, read from its wire form without building it.

    `read_route` parses the whole document (so JSON that is malformed anywhere is
    caught) but builds only these two fields: a source skips what no subscription,
    sink or schema of its pipeline wants without decoding the rest of the event.
    """

    event_type: Annotated[str, Field(min_length=1)]
    target_agents: NotRequired[tuple[str, ...]]


_validate_route = TypeAdapter(EventRoute).validator.validate_json  # no Python layer between


def read_route(raw: bytes) -> EventRoute | None:
    """The event type and addressees of an encoded event, or None when they cannot be
    read (not JSON, not an object, no usable ``event_type``): decode such a record in
    full, and its decode error is the reason its dead letter gives."""
    try:
        route: EventRoute = _validate_route(raw)
    except ValidationError:
        return None
    return None if route["event_type"].isspace() else route


def encode_event(event: AgentEvent) -> bytes:
    """The event's wire form: its JSON as UTF-8 bytes (one JSONL line, one Kafka value)."""
    return event.model_dump_json().encode()


def decode_event(raw: bytes | bytearray | memoryview | str) -> AgentEvent:
    """Parse and validate one event from its wire form.

    Raises `EventDecodeError` (and nothing else) with a readable reason for bytes that
    are not JSON, JSON that is not an object, or an object that is not a valid event;
    also for text holding a lone surrogate (``"\\ud800"``), which is no UTF-8 text.
    """
    data = raw if type(raw) is bytes or isinstance(raw, str) else bytes(raw)
    try:
        event: AgentEvent = _validate_json(data)
        return event
    except ValidationError as error:
        raise EventDecodeError(_decode_reason(error, data), raw=_raw_bytes(data)) from None


def _raw_bytes(data: bytes | str) -> bytes:
    # Text read with errors="surrogateescape" goes back to its original bytes; any
    # other lone surrogate is kept as its (invalid) UTF-8 form, so nothing is lost.
    if not isinstance(data, str):
        return data
    try:
        return data.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return data.encode("utf-8", "surrogatepass")


def _decode_reason(error: ValidationError, data: bytes | str) -> str:
    first = error.errors(include_url=False)[0]
    if first["type"] == "string_unicode" and isinstance(data, str):
        at = next((i for i, c in enumerate(data) if "\ud800" <= c <= "\udfff"), 0)
        return f"not UTF-8 text: lone surrogate {data[at : at + 1]!r} at character {at}"
    if first["type"] == "json_invalid":
        return f"not valid JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
    if first["type"] == "model_type":
        return "not a JSON object"
    return f"not a valid event: {describe_validation_error(error)}"
