"""A bounded FIFO in front of a credit-pulling consumer, with an explicit overflow policy.

Items wait in a FIFO of at most ``capacity`` until the consumer grants credits on
``request`` (each integer ``n`` allows ``n`` more items, as Reactive Streams
``request(n)``). ``capacity=2``, no credits until the ``5`` at the end::

    source:          -a-b-c-d-|
    request:         -----------5
    drop_oldest:     -----------(cd)|    on_drop(a), on_drop(b)
    drop_newest:     -----------(ab)|    on_drop(c), on_drop(d)
    error:           -----#              BufferOverflowError("... capacity 2 ...")
    block:           -----------(abcd)|  on_pressure(True) at b, on_pressure(False) after

What each policy does when an item arrives at a full buffer:

* ``drop_oldest``: evict the head, keep the newcomer; ``on_drop(head, DROP_OLDEST)``.
* ``drop_newest``: reject the newcomer; ``on_drop(item, DROP_NEWEST)``.
* ``error``: ``on_drop(item, OVERFLOW)``, then a :class:`BufferOverflowError` downstream.
* ``block``: a push source cannot be blocked, so the item is kept *beyond* capacity and
  the buffer reports pressure instead: ``on_pressure(True)`` when it holds
  ``>= capacity`` items, ``on_pressure(False)`` once it drains below ``low_water``
  (default ``max(1, capacity // 2)``). The pipeline pauses its pausable source on True
  and resumes it on False; the buffer stays bounded only if it does.

``on_pressure`` reports those two transitions under every policy (only once each, and
only while items actually wait: a consumer with spare credits causes no signals).
Nothing is lost silently: every dropped item goes through ``on_drop``, including items
still buffered when the stream fails or is disposed (reason ``DISCARDED``; logged as a
warning when there is no ``on_drop``). Errors from the source or the request stream
propagate at once. It completes when the source has completed and the buffer is empty.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from reactivex import Observable, abc

from ._credit import CreditGate, check_initial

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


class Overflow(StrEnum):
    """What a full :func:`bounded_buffer` does with one more item."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"
    DROP_NEWEST = "drop_newest"
    ERROR = "error"


class DropReason(StrEnum):
    """Why ``on_drop`` received an item."""

    DROP_OLDEST = "drop_oldest"  # evicted from the head to make room (Overflow.DROP_OLDEST)
    DROP_NEWEST = "drop_newest"  # rejected on arrival at a full buffer (Overflow.DROP_NEWEST)
    OVERFLOW = "overflow"  # the arrival that overflowed under Overflow.ERROR
    DISCARDED = "discarded"  # still buffered when the stream failed or was disposed


class BufferOverflowError(RuntimeError):
    """A :func:`bounded_buffer` with ``Overflow.ERROR`` received an item while full."""

    def __init__(self, capacity: int) -> None:
        super().__init__(f"bounded buffer is full (capacity {capacity}) and overflow='error'")
        self.capacity = capacity


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


def bounded_buffer(
    capacity: int,
    overflow: Overflow | str,
    request: Observable[int],
    *,
    initial: int = 0,
    low_water: int | None = None,
    on_drop: Callable[[_T, DropReason], None] | None = None,
    on_pressure: Callable[[bool], None] | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Hold at most ``capacity`` items for a consumer that pulls with credits.

    ``initial`` credits are available at subscription; ``request`` adds more.

    Raises:
        ValueError: at call time, for an invalid policy, a negative ``initial``, a
            dropping policy without ``on_drop``, or ``block`` without ``on_pressure``
            (it would be an unbounded buffer).
    """
    policy = BufferPolicy(capacity=capacity, overflow=overflow, low_water=low_water)
    check_initial(initial)
    if policy.overflow in (Overflow.DROP_OLDEST, Overflow.DROP_NEWEST) and on_drop is None:
        raise ValueError(
            f"overflow='{policy.overflow}' drops items: pass on_drop=... to dead-letter or "
            "acknowledge them (nothing is dropped silently)"
        )
    if policy.overflow is Overflow.BLOCK and on_pressure is None:
        raise ValueError(
            "overflow='block' needs on_pressure=... to pause the source; without it the "
            "buffer is unbounded"
        )

    def report(items: list[_T], reason: DropReason) -> None:
        if on_drop is not None:
            for item in items:
                on_drop(item, reason)
        elif items:
            _log.warning(
                "bounded_buffer dropped %d item(s) (%s) and has no on_drop", len(items), reason
            )

    def _bounded_buffer(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            queue: deque[_T] = deque()
            high = False

            def update_pressure() -> None:
                nonlocal high
                with gate.lock:
                    size = len(queue)
                    was_high = high
                    if size >= policy.capacity:
                        high = True
                    elif size < policy.resume_below:
                        high = False
                    now_high = high
                if now_high != was_high and on_pressure is not None:
                    on_pressure(now_high)

            def discard() -> None:
                with gate.lock:
                    left = list(queue)
                    queue.clear()
                report(left, DropReason.DISCARDED)

            gate = CreditGate(
                observer,
                queue,
                queue.popleft,
                initial,
                on_released=update_pressure,
                on_terminate=discard,
            )

            def on_next(item: _T) -> None:
                dropped: tuple[_T, DropReason] | None = None
                with gate.lock:
                    if gate.stopped:
                        dropped = (item, DropReason.DISCARDED)
                    elif len(queue) < policy.capacity or policy.overflow is Overflow.BLOCK:
                        queue.append(item)
                    elif policy.overflow is Overflow.DROP_OLDEST:
                        dropped = (queue.popleft(), DropReason.DROP_OLDEST)
                        queue.append(item)
                    elif policy.overflow is Overflow.DROP_NEWEST:
                        dropped = (item, DropReason.DROP_NEWEST)
                    else:
                        dropped = (item, DropReason.OVERFLOW)
                if dropped is not None:
                    report([dropped[0]], dropped[1])
                    if dropped[1] is DropReason.OVERFLOW:
                        gate.fail(BufferOverflowError(policy.capacity))
                        return
                gate.drain()
                update_pressure()

            return gate.connect(source, request, on_next, scheduler_)

        return Observable(subscribe)

    return _bounded_buffer


__all__ = [
    "BufferOverflowError",
    "BufferPolicy",
    "DropReason",
    "Overflow",
    "bounded_buffer",
]
