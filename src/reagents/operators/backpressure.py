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
from typing import TypeVar

from reactivex import Observable, abc

from reagents.errors import BufferOverflowError
from reagents.policies.overflow import BufferPolicy, DropReason, Overflow, offer

from ._credit import CreditGate, check_initial

_T = TypeVar("_T")
_log = logging.getLogger(__name__)


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
                with gate.lock:
                    if gate.stopped:
                        dropped: tuple[_T, DropReason] | None = (item, DropReason.DISCARDED)
                    else:
                        dropped = offer(queue, item, policy.capacity, policy.overflow)
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


__all__ = ["bounded_buffer"]
