"""Field paths on events: ``type``, ``priority``, ``payload.order.amount`` → a fast getter.

Filters and the ``where`` language read event fields through these getters, built
once per filter. A path that leads nowhere yields `MISSING` instead of raising, so
a filter on an absent field is simply false.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

from reagents.events import AgentEvent

__all__ = ["EVENT_FIELDS", "MISSING", "FieldGetter", "field_getter"]


class _Missing:
    """The value of a field path that does not exist on an event."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()

FieldGetter = Callable[[AgentEvent], Any]

EVENT_FIELDS: Final[dict[str, str]] = {
    "type": "event_type",
    "event_type": "event_type",
    "source": "source_agent",
    "source_agent": "source_agent",
    "target": "target_agents",
    "target_agents": "target_agents",
    "priority": "priority",
    "correlation_id": "correlation_id",
    "causation_id": "causation_id",
    "event_id": "event_id",
    "id": "event_id",
    "timestamp": "timestamp",
    "retry_count": "retry_count",
    "max_retries": "max_retries",
    "payload": "payload",
}
"""The names a field path may start with, and the event attribute each one reads."""


def field_getter(path: str) -> FieldGetter:
    """A function reading ``path`` from an event, or `MISSING` where the path ends.

    Raises `KeyError` naming the known fields if the first segment is not one of them.
    """
    head, *rest = path.split(".")
    try:
        attribute = EVENT_FIELDS[head.lower()]
    except KeyError:
        known = ", ".join(sorted(set(EVENT_FIELDS)))
        raise KeyError(f"unknown event field {head!r}; known fields: {known}") from None
    if not rest:
        return attrgetter(attribute)
    if attribute == "payload" and len(rest) == 1:  # the common case, kept short
        key = rest[0]
        return lambda event: event.payload.get(key, MISSING)
    # A segment of plain ASCII digits may also index a list; decided once, here.
    steps = tuple((key, _list_index(key)) for key in rest)

    def read(event: AgentEvent) -> Any:
        value: Any = getattr(event, attribute)
        for key, index in steps:
            if isinstance(value, dict):
                value = value.get(key, MISSING)
            elif isinstance(value, list | tuple) and index is not None and index < len(value):
                value = value[index]
            else:
                return MISSING
        return value

    return read


def _list_index(key: str) -> int | None:
    if key.isascii() and key.isdecimal() and len(key) <= 9:
        return int(key)
    return None
