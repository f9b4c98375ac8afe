"""`Overflow`: what a full buffer does with one more item, applied in one place (`offer`).

``bounded_buffer`` (the Rx operator) and ``MemorySource`` (a push source the pipeline
cannot pause) both call `offer`, so a policy means the same thing everywhere:

* ``block`` — the item is kept beyond capacity and the caller applies pressure
  (waits, pauses its producer);
* ``drop_oldest`` — the head is evicted to make room;
* ``drop_newest`` — the newcomer is rejected;
* ``error`` — the newcomer is rejected and the caller fails.

Nothing is dropped silently: `offer` returns what it dropped and why.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["BufferPolicy", "DropReason", "Overflow", "offer"]

T = TypeVar("T")


class Overflow(StrEnum):
    """What a full buffer does with one more item."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    ERROR = "error"


class DropReason(StrEnum):
    """Why an item left a buffer without being delivered."""

    DROP_OLDEST = "drop_oldest"  # evicted from the head to make room (Overflow.DROP_OLDEST)
    DROP_NEWEST = "drop_newest"  # rejected on arrival at a full buffer (Overflow.DROP_NEWEST)
    OVERFLOW = "overflow"  # the arrival that overflowed under Overflow.ERROR
    DISCARDED = "discarded"  # still buffered when the stream failed or was disposed


class BufferPolicy(BaseModel):
    """Validated bounds of a buffer: its capacity, overflow policy and low-water mark."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity: int = Field(ge=1, description="Items held before the overflow policy applies.")
    overflow: Overflow = Field(description="What happens to one item more.")
    low_water: int | None = Field(
        default=None,
        ge=1,
        description="Pressure ends below this size (default max(1, capacity // 2)).",
    )

    @model_validator(mode="after")
    def _low_water_within_capacity(self) -> Self:
        if self.low_water is not None and self.low_water > self.capacity:
            raise ValueError(f"low_water ({self.low_water}) must be <= capacity ({self.capacity})")
        return self

    @property
    def resume_below(self) -> int:
        """Pressure is released once the buffer holds fewer items than this."""
        return self.low_water if self.low_water is not None else max(1, self.capacity // 2)


def offer(
    buffer: deque[T], item: T, capacity: int, overflow: Overflow
) -> tuple[T, DropReason] | None:
    """Put ``item`` into ``buffer`` as ``overflow`` says; return what was dropped, if any.

    Under ``error`` the returned reason is ``OVERFLOW`` and the item was not added: the
    caller raises. Under ``block`` the item is always added (past capacity if need be).
    """
    if len(buffer) < capacity or overflow is Overflow.BLOCK:
        buffer.append(item)
        return None
    if overflow is Overflow.DROP_OLDEST:
        buffer.append(item)
        return buffer.popleft(), DropReason.DROP_OLDEST
    if overflow is Overflow.DROP_NEWEST:
        return item, DropReason.DROP_NEWEST
    return item, DropReason.OVERFLOW
