"""`PriorityFifo`: most urgent first, first in first out among equals.

The one priority order of reagents: each agent's runner serves its waiting events
(and flow outputs) in it. Smaller keys are more urgent (event priority 1 beats 9).

Strict priority can starve: while urgent events keep coming, a waiting priority-9
event is never served, and the source record it came from is never acknowledged (so
its checkpoint cannot move and a crash re-delivers everything read since). With
``aging=A`` each level of priority is worth ``A`` arrivals: an item is served before
any item that arrived more than ``(its key - their key) * A`` pushes after it. A
priority-10 event waits behind at most ``9 * A`` urgent events that came after it.
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

__all__ = ["HasPriority", "PriorityFifo", "priority_of"]

T = TypeVar("T")
_MISSING = object()


class HasPriority(Protocol):
    """Anything with an integer ``priority`` (1 = most urgent), such as ``AgentEvent``."""

    @property
    def priority(self) -> int: ...


def priority_of(item: object) -> int:
    """The default key: ``item.priority``; a clear TypeError when the item has none."""
    value = getattr(item, "priority", _MISSING)
    if value is _MISSING:
        raise TypeError(
            f"{type(item).__name__} has no 'priority' attribute; pass key=... to say "
            "how urgent an item is (smaller = more urgent)"
        )
    return value  # type: ignore[return-value]


class PriorityFifo(Generic[T]):
    """Items ordered by ``(key(item), arrival)``, or with aging by ``key * aging + arrival``.

    ``key`` is evaluated once, when an item is pushed; an exception from it propagates
    from `push` and the item is not added (nor counted as an arrival). With ``aging``
    (a number of arrivals per level of priority; the key must then be an int) the
    order is ``key * aging + arrival``: equal keys stay first in first out, and no item
    waits for ever.

    While every waiting item has the same key, that order is the arrival order: the
    items wait in a deque (an append and a popleft, no tuple, no heap). The first push
    of a different key moves them into a heap of ``(order, arrival, item)`` entries,
    where they stay until the queue is empty again; the order served is the same
    either way.
    """

    __slots__ = ("_aging", "_arrival", "_fifo", "_fifo_key", "_heap", "_key")

    def __init__(
        self,
        key: Callable[[T], SupportsRichComparison] = priority_of,
        *,
        aging: int | None = None,
    ) -> None:
        if aging is not None and aging < 1:
            raise ValueError(f"aging must be a number of arrivals >= 1, got {aging}")
        self._key = key
        self._aging = aging
        self._heap: list[tuple[Any, int, T]] = []
        # While the heap is empty: the waiting items, all of key `_fifo_key`, whose
        # arrivals are consecutive and end just before `_arrival`.
        self._fifo: deque[T] = deque()
        self._fifo_key: Any = None
        self._arrival = 0  # arrivals so far: the next item's arrival number

    @property
    def aging(self) -> int | None:
        """Arrivals worth one level of priority (None: strict priority)."""
        return self._aging

    def __len__(self) -> int:
        return len(self._fifo) + len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._fifo) or bool(self._heap)

    def push(self, item: T) -> None:
        """Add ``item`` behind every waiting item at least as urgent (or aged as much)."""
        key: Any = self._key(item)
        arrival = self._arrival
        self._arrival = arrival + 1
        heap = self._heap
        if not heap:
            fifo = self._fifo
            if not fifo:
                self._fifo_key = key
                fifo.append(item)
                return
            if key == self._fifo_key:
                fifo.append(item)
                return
            heap = self._to_heap(arrival - len(fifo))
        if self._aging is not None:
            heapq.heappush(heap, (key * self._aging + arrival, arrival, item))
        else:
            heapq.heappush(heap, (key, arrival, item))

    def _to_heap(self, first: int) -> list[tuple[Any, int, T]]:
        """Move the deque's items (arrivals ``first``, ``first + 1``...) into the heap."""
        key, aging, fifo = self._fifo_key, self._aging, self._fifo
        if aging is None:
            heap = [(key, arrival, item) for arrival, item in enumerate(fifo, first)]
        else:
            base = key * aging
            heap = [(base + arrival, arrival, item) for arrival, item in enumerate(fifo, first)]
        fifo.clear()  # `heap` is sorted, so it already is a heap
        self._heap = heap
        return heap

    def pop(self) -> T:
        """Remove and return the most urgent, earliest item (IndexError when empty)."""
        if self._fifo:
            return self._fifo.popleft()
        return heapq.heappop(self._heap)[2]

    def drain(self) -> list[T]:
        """Remove every item and return them in release order."""
        items = list(self)
        self._fifo.clear()
        self._heap.clear()
        return items

    def __iter__(self) -> Iterator[T]:
        """The waiting items in release order (without removing them)."""
        if self._fifo:
            return iter(list(self._fifo))
        return iter([entry[2] for entry in sorted(self._heap)])
