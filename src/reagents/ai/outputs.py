"""What an LLM agent's model may answer, and how an answer becomes a reaction payload."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

__all__ = ["output_choices", "reaction_payload"]


def output_choices(
    output_type: type[BaseModel] | Sequence[type[BaseModel]] | None,
) -> tuple[type[BaseModel], ...]:
    """The output models the model may answer with (none: plain text)."""
    if output_type is None:
        return ()
    if isinstance(output_type, type):
        return (output_type,)
    return tuple(output_type)


def reaction_payload(output: object) -> dict[str, Any]:
    """A structured answer as JSON data; plain text as ``{"text": ...}``."""
    if isinstance(output, BaseModel):
        return output.model_dump(mode="json")
    return {"text": output}
