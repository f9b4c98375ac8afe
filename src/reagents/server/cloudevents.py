"""CloudEvents (v1.0) <-> `AgentEvent`: the mapping ``POST /events`` speaks.

==================  ====================  =============================================
CloudEvents         AgentEvent            notes
==================  ====================  =============================================
``id``              ``event_id``          a missing id gets a fresh uuid4
``type``            ``event_type``
``source``          ``source_agent``      an empty ``source_agent`` goes out as
                                          ``external`` (``source`` must not be empty)
``time``            ``timestamp``         a missing time is "now"; converted to UTC
``data``            ``payload``           must be a JSON object; absent or ``null``
                                          is ``{}``; any other data (array, number,
                                          text, bytes) is refused with a reason
``datacontenttype`` (none)                written as ``application/json``
``priority``        ``priority``          extension, integer 1..10
``correlationid``   ``correlation_id``    extension
``causationid``     ``causation_id``      extension
``targetagents``    ``target_agents``     extension: comma-separated agent ids, each
                                          percent-encoded (``billing,shipping``)
``retrycount``      ``retry_count``       extension, integer
``maxretries``      ``max_retries``       extension, integer
``traceparent``     ``traceparent``       the Distributed Tracing extension (W3C);
``tracestate``      ``tracestate``        malformed values are dropped, as W3C says
``subject``,        (none)                AgentEvent has no field for them: they are
``dataschema``,                           not carried; `from_cloudevent` names them
other extensions                          so ``POST /events`` can report them
==================  ====================  =============================================

`to_cloudevent` and `from_cloudevent` are inverse: an event survives the trip through
structured or binary CloudEvents unchanged (a property test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.exceptions import BaseCloudEventException, CloudEventValidationError
from cloudevents.core.v1.event import CloudEvent
from pydantic import ValidationError

from reagents.errors import EventDecodeError, describe_validation_error
from reagents.events import AgentEvent

__all__ = [
    "EXTENSIONS",
    "cloud_event",
    "describe_cloud_error",
    "from_cloudevent",
    "to_cloudevent",
]

EXTENSIONS: Mapping[str, str] = {
    "priority": "priority",
    "correlationid": "correlation_id",
    "causationid": "causation_id",
    "targetagents": "target_agents",
    "retrycount": "retry_count",
    "maxretries": "max_retries",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
}
"""CloudEvents extension attribute -> AgentEvent field."""

_CORE = {"id", "type", "source", "time", "specversion", "datacontenttype"}
_DEFAULTS = AgentEvent.model_fields


def to_cloudevent(event: AgentEvent) -> CloudEvent:
    """``event`` as a CloudEvent; extensions only for fields that differ from the default."""
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": event.event_id,
        "type": event.event_type,
        "source": event.source_agent or "external",
        "time": event.timestamp,
        "datacontenttype": "application/json",
    }
    for name, field in EXTENSIONS.items():
        value = getattr(event, field)
        if value is None or value == _DEFAULTS[field].get_default(call_default_factory=False):
            continue
        if field == "target_agents":
            value = ",".join(quote(agent, safe="") for agent in value)
        attributes[name] = value
    return CloudEvent(attributes, dict(event.payload))


def from_cloudevent(cloud: BaseCloudEvent) -> tuple[AgentEvent, list[str]]:
    """The AgentEvent ``cloud`` stands for, and the attributes it could not carry.

    Raises `EventDecodeError` with a readable reason (non-object data, an invalid field).
    """
    attributes = cloud.get_attributes()
    fields: dict[str, Any] = {
        "event_id": cloud.get_id(),
        "event_type": cloud.get_type(),
        "source_agent": cloud.get_source(),
        "payload": _payload(cloud.get_data()),
    }
    time = cloud.get_time()
    if time is not None:
        fields["timestamp"] = time
    ignored = []
    for name, value in attributes.items():
        field = EXTENSIONS.get(name)
        if field == "target_agents":
            fields[field] = _agents(value)
        elif field is not None:
            fields[field] = value
        elif name not in _CORE and value is not None:
            ignored.append(name)
    try:
        return AgentEvent(**fields), sorted(ignored)
    except ValidationError as error:
        raise EventDecodeError(f"not a valid event: {describe_validation_error(error)}") from None


def cloud_event(attributes: dict[str, Any], data: Any) -> CloudEvent:
    """A v1.0 `CloudEvent` from parsed attributes; `EventDecodeError` saying what is wrong."""
    if attributes.get("specversion", "1.0") != "1.0":
        raise EventDecodeError(
            f"CloudEvents specversion {attributes['specversion']!r} is not supported (use 1.0)"
        )
    try:
        return CloudEvent(attributes, data)
    except CloudEventValidationError as error:
        raise EventDecodeError(f"not a valid CloudEvent: {describe_cloud_error(error)}") from None


def describe_cloud_error(error: CloudEventValidationError) -> str:
    """One line: the first problem of each attribute (``source: missing``)."""
    parts = [f"{name}: {_first(problems)}" for name, problems in error.errors.items()]
    return "; ".join(parts)


def _first(problems: list[BaseCloudEventException]) -> str:
    return str(problems[0]) if problems else "invalid"


def _payload(data: object) -> dict[str, Any]:
    if data is None:
        return {}
    if isinstance(data, dict):
        return data
    if isinstance(data, bytes | str):
        kind = "binary data" if isinstance(data, bytes) else "text"
    else:
        kind = f"a JSON {_json_kind(data)}"
    raise EventDecodeError(
        f"CloudEvent data must be a JSON object (it becomes the event's payload), got {kind}; "
        'wrap it, e.g. {"value": ...}, and send datacontenttype application/json'
    )


def _json_kind(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    kinds: dict[type, str] = {list: "array", int: "number", float: "number"}
    return kinds.get(type(value), type(value).__name__)


def _agents(value: object) -> object:
    if isinstance(value, str):
        return tuple(unquote(agent.strip()) for agent in value.split(","))
    return value  # a list in structured JSON (not CloudEvents, but unambiguous)
