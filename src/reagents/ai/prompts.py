"""What an `LLMAgent` sends by default, and what it calls the events it emits.

The default prompt is the event (its type and payload) as JSON — or, for a batch
from a flow, a JSON list of all of them — so a model sees exactly what the pipeline
saw; pass ``prompt=`` to say more.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel

from reagents.events import AgentEvent

__all__ = ["DEFAULT_EVENT_TYPE", "default_event_type", "default_prompt", "estimate_tokens"]

DEFAULT_EVENT_TYPE = "llm_reply"


def default_prompt(value: AgentEvent | list[AgentEvent]) -> str:
    """The event's type and payload as JSON; a batch as a JSON list of those."""
    if isinstance(value, list):
        return json.dumps([_described(event) for event in value], default=str)
    return json.dumps(_described(value), default=str)


def _described(event: AgentEvent) -> dict[str, object]:
    return {"event_type": event.event_type, "payload": event.payload}


def default_event_type(output_type: type[BaseModel] | None) -> str:
    """The output model's name in snake_case (``TradeVerdict`` → ``trade_verdict``)."""
    if output_type is None:
        return DEFAULT_EVENT_TYPE
    return re.sub(r"(?<!^)(?=[A-Z])", "_", output_type.__name__).lower()


def estimate_tokens(*texts: str) -> int:
    """A rough token count for budgeting before the call (four characters a token)."""
    return max(1, sum(len(text) for text in texts) // 4)
