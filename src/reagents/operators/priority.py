"""Release the most urgent buffered item first to a consumer that pulls with credits.

``priority_buffer(request)`` holds items in a heap keyed by ``(key(item), arrival)``:
smaller key = more urgent (event priority 1 beats 9), FIFO among equal keys. Each
integer ``n`` on ``request`` is a credit for ``n`` more items (Reactive Streams
``request(n)``). Digits are priorities, the consumer is busy until it grants credits::

    source:   -5-9-1-5'-2-|
    request:  -------------1-1-1--1-1
    result:   -------------1-2-5--5'-9|

With enough credits it is a pass-through in arrival order. It completes when the source
has completed *and* the heap is drained. Errors (from the source or the request stream,
or a request of ``n < 1``) propagate at once; items still buffered then, or at disposal,
go to ``on_discard`` if given. The heap itself is unbounded: bound it upstream by pausing
the source, or put a ``bounded_buffer`` in front.

``priority_merge(*sources, request=...)`` is ``reactivex.merge`` followed by this buffer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import reactivex
from reactivex import Observable, abc

from reagents.policies.priority import PriorityFifo, priority_of

from ._credit import CreditGate, check_initial

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

_T = TypeVar("_T")


def priority_buffer(
    request: Observable[int],
    *,
    initial: int = 0,
    key: Callable[[_T], SupportsRichComparison] = priority_of,
    on_discard: Callable[[_T], None] | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Buffer items and release the most urgent one each time the consumer has a credit.

    ``initial`` credits are available at subscription; ``request`` adds more. A key that
    raises sends its error downstream.

    Raises:
        ValueError: at call time, when ``initial`` is negative.
    """
    check_initial(initial)

    def _priority_buffer(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            heap: PriorityFifo[_T] = PriorityFifo(key)

            def discard() -> None:
                with gate.lock:
                    left = heap.drain()
                if on_discard is not None:
                    for item in left:
                        on_discard(item)

            gate = CreditGate(observer, heap, heap.pop, initial, on_terminate=discard)

            def on_next(item: _T) -> None:
                try:
                    with gate.lock:
                        heap.push(item)
                except Exception as error:
                    gate.fail(error)
                    return
                gate.drain()

            return gate.connect(source, request, on_next, scheduler_)

        return Observable(subscribe)

    return _priority_buffer


def priority_merge(
    *sources: Observable[_T],
    request: Observable[int] | None = None,
    initial: int = 0,
    key: Callable[[_T], SupportsRichComparison] = priority_of,
    on_discard: Callable[[_T], None] | None = None,
) -> Observable[_T]:
    """Merge ``sources``; with ``request``, release the merged items most urgent first.

    Without ``request`` there is no consumer limit and this is exactly
    ``reactivex.merge``: items come out in arrival order and ``key`` is not used.
    With ``request`` it is ``merge`` followed by :func:`priority_buffer`, whose
    ordering, completion and error rules apply.
    """
    merged = reactivex.merge(*sources)
    if request is None:
        return merged
    return merged.pipe(priority_buffer(request, initial=initial, key=key, on_discard=on_discard))


__all__ = ["priority_buffer", "priority_merge"]
