"""`Overflow`: what a full buffer does with one more item, applied in one place (`offer`).

A push source the pipeline cannot pause (``MemorySource``, a pipeline's inbox) has a
bounded buffer; `offer` applies its policy to one more event:

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
from typing import TypeVar

__all__ = ["DropReason", "Overflow", "offer"]

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
