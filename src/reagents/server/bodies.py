"""Request bodies -> events: the five forms ``POST /events`` accepts, all-or-nothing.

==================================== =============================================
``Content-Type``                     body
==================================== =============================================
``application/json`` (or none)       one `AgentEvent` object, or a JSON array of them
``application/x-ndjson``             one `AgentEvent` object a line (blank lines skip)
``application/cloudevents+json``     one CloudEvent, structured mode
``application/cloudevents-batch+json`` a JSON array of structured CloudEvents
any, with ``ce-*`` headers           one CloudEvent, binary mode (body = its data)
==================================== =============================================

Every item is decoded and validated before any is accepted: one bad item refuses the
request (`BadEvents` lists each bad item's index and the reason a dead letter would
carry). The reasons are `decode_event`'s, so HTTP and dead letters say the same thing.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar
from urllib.parse import unquote

from cloudevents.core.bindings.http import HTTPMessage, from_binary
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json

from reagents.errors import EventDecodeError, ReagentsError, describe_validation_error
from reagents.events import AgentEvent, decode_event
from reagents.server.cloudevents import cloud_event, describe_cloud_error, from_cloudevent

__all__ = ["MEDIA_TYPES", "BadEvents", "Decoded", "UnsupportedMediaType", "decode_body"]

JSON = "application/json"
NDJSON = "application/x-ndjson"
CE_JSON = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"
MEDIA_TYPES = (JSON, NDJSON, CE_JSON, CE_BATCH)
MAX_REPORTED = 20
"""At most this many bad items are described in one answer."""

_FORMAT = JSONFormat()
_BATCH: TypeAdapter[list[AgentEvent]] = TypeAdapter(list[AgentEvent])
R = TypeVar("R")
T = TypeVar("T")


class BadEvents(ReagentsError, ValueError):
    """Items of a request that are not valid events: ``(index, reason)`` pairs."""

    def __init__(self, problems: list[tuple[int, str]], single: bool) -> None:
        self.problems = problems[:MAX_REPORTED]
        self.more = len(problems) - len(self.problems)
        first_index, first_reason = problems[0]
        where = "" if single else f"event #{first_index}: "
        more = "" if len(problems) == 1 else f" (and {len(problems) - 1} more)"
        super().__init__(f"{where}{first_reason}{more}")


class UnsupportedMediaType(ReagentsError, ValueError):
    """A ``Content-Type`` that ``POST /events`` does not read."""


@dataclass(slots=True)
class Decoded:
    """The events of one request, in order, and the CloudEvents attributes not carried."""

    events: list[AgentEvent]
    single: bool
    ignored: dict[str, list[str]] = field(default_factory=dict)


def decode_body(body: bytes, headers: Mapping[str, str]) -> Decoded:
    """Decode every event of a request (``headers`` lower-case); raises `BadEvents`."""
    media = headers.get("content-type", JSON).partition(";")[0].strip().lower() or JSON
    if media == CE_JSON:
        return _cloud([_attempt(_structured_body, body)], single=True)
    if media == CE_BATCH:
        return _cloud(_items(body, _structured), single=False)
    if any(name.startswith("ce-") for name in headers):
        return _cloud([_attempt(_binary, (body, headers))], single=True)
    if media == NDJSON:
        lines = [line for line in body.split(b"\n") if line.strip()]
        return _plain([_attempt(decode_event, line) for line in lines], single=False)
    if media == JSON or media.endswith("+json"):
        if body.lstrip()[:1] == b"[":
            try:  # the fast path; a batch that fails is decoded again item by item
                batch = _BATCH.validate_json(body)
            except ValidationError:
                batch = []
            return Decoded(batch, False) if batch else _plain(_items(body, _agent_event), False)
        return _plain([_attempt(decode_event, body)], single=True)
    raise UnsupportedMediaType(
        f"Content-Type {media!r} is not accepted; send one of {', '.join(MEDIA_TYPES)} "
        "(or CloudEvents binary mode: ce-* headers)"
    )


def _attempt(decode: Callable[[R], T], raw: R) -> T | str:
    """``decode(raw)``, or the reason it is not an event."""
    try:
        return decode(raw)
    except EventDecodeError as error:
        return error.reason


def _items(body: bytes, decode: Callable[[object], T]) -> list[T | str]:
    try:
        values = _json(body)
    except EventDecodeError as error:
        raise BadEvents([(0, error.reason)], single=True) from None
    if not isinstance(values, list):
        raise BadEvents([(0, "a batch must be a JSON array")], single=True)
    if not values:
        raise BadEvents([(0, "the batch is empty")], single=True)
    return [_attempt(decode, value) for value in values]


def _json(body: bytes) -> object:
    # pydantic's parser, as decode_event's: it refuses what could never be written back
    # (lone surrogates, numbers beyond range), so every body form accepts the same
    # (NaN too: written back as null, as for a single event).
    try:
        return from_json(body)
    except ValueError as error:
        raise EventDecodeError(f"not valid JSON: {error}") from None


def _agent_event(value: object) -> AgentEvent:
    if not isinstance(value, dict):
        raise EventDecodeError("not a JSON object")
    try:
        return AgentEvent.model_validate(value)
    except ValidationError as error:
        raise EventDecodeError(f"not a valid event: {describe_validation_error(error)}") from None


def _structured_body(body: bytes) -> CloudEvent:
    return _structured(_json(body))


def _structured(value: object) -> CloudEvent:
    """A structured-mode CloudEvent from its parsed JSON (what `JSONFormat.read` does for
    1.0, with a reason for each way it can fail)."""
    if not isinstance(value, dict):
        raise EventDecodeError("not a JSON object")
    attributes = dict(value)
    data = attributes.pop("data", None)
    encoded = attributes.pop("data_base64", None)
    if data is None and encoded is not None:
        try:
            data = base64.b64decode(encoded, validate=True)
        except (ValueError, TypeError):
            raise EventDecodeError("not a valid CloudEvent: data_base64: not base64") from None
    if "time" in attributes:
        attributes["time"] = _time(attributes["time"])
    return cloud_event(attributes, data)


def _time(value: object) -> datetime:
    try:
        if isinstance(value, str):
            return datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        pass
    raise EventDecodeError(
        f"not a valid CloudEvent: time: not an RFC 3339 timestamp (got {value!r:.60})"
    )


def _binary(message: tuple[bytes, Mapping[str, str]]) -> CloudEvent:
    body, headers = message
    version = headers.get("ce-specversion", "1.0")
    if version != "1.0":
        raise EventDecodeError(f"CloudEvents specversion {version!r} is not supported (use 1.0)")
    if "ce-time" in headers:
        _time(unquote(headers["ce-time"]))
    if body.strip() and _FORMAT.JSON_CONTENT_TYPE_PATTERN.match(headers.get("content-type", JSON)):
        _json(body)  # a reason for a body that says it is JSON and is not
    try:
        cloud = from_binary(HTTPMessage(dict(headers), body), _FORMAT, CloudEvent)
    except CloudEventValidationError as error:
        raise EventDecodeError(f"not a valid CloudEvent: {describe_cloud_error(error)}") from None
    except ValueError as error:  # a time the library parses differently
        raise EventDecodeError(f"not a valid CloudEvent: {error}") from None
    assert isinstance(cloud, CloudEvent)  # the factory given
    return cloud


def _plain(items: list[AgentEvent | str], single: bool) -> Decoded:
    problems = [(i, item) for i, item in enumerate(items) if isinstance(item, str)]
    if problems or not items:
        raise BadEvents(problems or [(0, "no events in the body")], single)
    return Decoded([item for item in items if not isinstance(item, str)], single)


def _cloud(items: list[CloudEvent | str], single: bool) -> Decoded:
    decoded = Decoded([], single)
    problems: list[tuple[int, str]] = []
    for index, item in enumerate(items):
        converted = item if isinstance(item, str) else _attempt(from_cloudevent, item)
        if isinstance(converted, str):
            problems.append((index, converted))
            continue
        event, ignored = converted
        decoded.events.append(event)
        if ignored:
            decoded.ignored[event.event_id] = ignored
    if problems:
        raise BadEvents(problems, single)
    return decoded
