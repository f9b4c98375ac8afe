"""What a remote agent answers, as handler outputs: events, response dicts, or nothing.

A webhook's response body and a pull client's ``reactions`` share one shape: JSON
``null`` (or no body) for nothing, one object, or a list of objects. An object with
an ``event_type`` is an `AgentEvent` (validated; the pipeline stamps it with the
agent as source and the cause's conversation); any other object is the ``result`` of
an ``agent_response`` event, as a Python handler's dict would be.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from reagents.errors import ReagentsError
from reagents.events import AgentEvent

__all__ = ["MAX_REACTIONS", "Reaction", "ReactionError", "parse_reactions"]

MAX_REACTIONS = 1000
"""Reactions one answer may carry."""

Reaction = AgentEvent | dict[str, Any]


class ReactionError(ReagentsError, ValueError):
    """A remote agent's answer is not an event, a list of events, an object or nothing."""


def parse_reactions(data: object, origin: str) -> list[Reaction]:
    """``data`` (decoded JSON) as handler outputs; `ReactionError` naming ``origin`` if not."""
    if data is None:
        return []
    items = data if isinstance(data, list) else [data]
    if len(items) > MAX_REACTIONS:
        raise ReactionError(f"{origin}: {len(items)} reactions, more than {MAX_REACTIONS}")
    reactions: list[Reaction] = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ReactionError(
                f"{origin}: reaction #{number} is a JSON {_json_type(item)}; expected an "
                "event (an object with event_type) or an object (a response's result)"
            )
        if "event_type" not in item:
            reactions.append(item)
            continue
        try:
            reactions.append(AgentEvent.model_validate(item))
        except ValidationError as error:
            raise ReactionError(
                f"{origin}: reaction #{number} is not a valid event: {summary(error)}"
            ) from None
    return reactions


def summary(error: ValidationError, limit: int = 5) -> str:
    """A pydantic error in one line (``field: problem; ...``), without the input."""
    problems = error.errors(include_url=False, include_context=False, include_input=False)
    parts = [f"{'.'.join(map(str, p['loc'])) or 'body'}: {p['msg']}" for p in problems[:limit]]
    more = f"; and {len(problems) - limit} more" if len(problems) > limit else ""
    return "; ".join(parts) + more


def _json_type(value: object) -> str:
    names = {str: "string", bool: "boolean", int: "number", float: "number"}
    return names.get(type(value), type(value).__name__)
