"""The body of ``POST /agents/{agent_id}/acks``: what a pull client did with its deliveries.

``{"acks": ["d1", {"delivery_id": "d2", "reactions": [{"event_type": "done"}]}],
"failures": [{"delivery_id": "d3", "reason": "upstream 503"}]}``. Reactions have the
shape of a webhook's response body (`reagents.server.reactions`). The whole body is
checked before any of it is applied, so a bad one changes nothing (HTTP 422).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reagents.errors import ReagentsError
from reagents.server.pull import PullAgent
from reagents.server.reactions import Reaction, ReactionError, parse_reactions, summary

__all__ = ["AckBatch", "AckError", "AckOutcome", "apply_acks", "parse_acks"]

_ID = Field(min_length=1, max_length=64)
_DeliveryId = Annotated[str, Field(min_length=1, max_length=64)]


class AckError(ReagentsError, ValueError):
    """An acks body that cannot be applied as given (HTTP 422); nothing was applied."""


class _Ack(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    delivery_id: str = _ID
    reactions: Any = None


class _Failure(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    delivery_id: str = _ID
    reason: str = Field(min_length=1, max_length=2000)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    acks: list[_DeliveryId | _Ack] = Field(default_factory=list, max_length=1000)
    failures: list[_Failure] = Field(default_factory=list, max_length=1000)


@dataclass(frozen=True, slots=True)
class AckBatch:
    """Checked acks (delivery id → reactions) and failures (delivery id → reason)."""

    acks: dict[str, list[Reaction]]
    failures: dict[str, str]


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """Which deliveries were acknowledged, failed, or had no open lease (expired?)."""

    acknowledged: list[str]
    failed: list[str]
    unknown: list[str]


def parse_acks(body: bytes) -> AckBatch:
    """``body`` checked: each ack's reactions parsed; `AckError` saying what is wrong."""
    try:
        parsed = _Body.model_validate_json(body or b"{}")
    except ValidationError as error:
        raise AckError(f"invalid acks: {summary(error)}") from None
    acks: dict[str, list[Reaction]] = {}
    for entry in parsed.acks:
        ack = _Ack(delivery_id=entry) if isinstance(entry, str) else entry
        try:
            acks[ack.delivery_id] = parse_reactions(ack.reactions, f"ack {ack.delivery_id}")
        except ReactionError as error:
            raise AckError(str(error)) from None
    failures = {f.delivery_id: f.reason for f in parsed.failures}
    if both := sorted(acks.keys() & failures.keys()):
        raise AckError(f"deliveries both acknowledged and failed: {', '.join(both)}")
    return AckBatch(acks, failures)


def apply_acks(agent: PullAgent, batch: AckBatch) -> AckOutcome:
    """Settle ``batch``'s deliveries with ``agent``; say what became of each."""
    acknowledged: list[str] = []
    failed: list[str] = []
    unknown: list[str] = []
    for delivery_id, reactions in batch.acks.items():
        (acknowledged if agent.ack(delivery_id, reactions) else unknown).append(delivery_id)
    for delivery_id, reason in batch.failures.items():
        (failed if agent.fail(delivery_id, reason) else unknown).append(delivery_id)
    return AckOutcome(acknowledged, failed, unknown)
