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
import itertools
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
    """A heap of items ordered by ``(key(item), arrival)``, or with aging by arrival.

    ``key`` is evaluated once, when an item is pushed; an exception from it propagates
    from `push` and the item is not added. With ``aging`` (a number of arrivals per
    level of priority; the key must then be an int) the order is ``key * aging +
    arrival``: equal keys stay first in first out, and no item waits for ever.
    """

    __slots__ = ("_aging", "_arrival", "_heap", "_key")

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
        self._arrival = itertools.count()

    @property
    def aging(self) -> int | None:
        """Arrivals worth one level of priority (None: strict priority)."""
        return self._aging

    def __len__(self) -> int:
        return len(self._heap)

    def __bool__(self) -> bool:
        return bool(self._heap)

    def push(self, item: T) -> None:
        """Add ``item`` behind every waiting item at least as urgent (or aged as much)."""
        arrival = next(self._arrival)
        key = self._key(item)
        if self._aging is not None:
            key = key * self._aging + arrival  # type: ignore[operator]
        heapq.heappush(self._heap, (key, arrival, item))

    def pop(self) -> T:
        """Remove and return the most urgent, earliest item (IndexError when empty)."""
        return heapq.heappop(self._heap)[2]

    def drain(self) -> list[T]:
        """Remove every item and return them in release order."""
        items = [entry[2] for entry in sorted(self._heap)]
        self._heap.clear()
        return items

    def __iter__(self) -> Iterator[T]:
        """The waiting items in release order (without removing them)."""
        return iter([entry[2] for entry in sorted(self._heap)])
