"""Drop items whose key was seen recently, with bounded memory.

``deduplicate()`` keyed by ``event_id`` (lower case = event id)::

    source:  -a-b-a-c-b-|
    result:  -a-b---c---|     (on_duplicate called with the second a and b)

Redelivery (at-least-once sources, retries upstream) makes duplicates normal; this
remembers the last ``capacity`` distinct keys, least recently seen evicted first, so a
key older than that passes again. ``on_duplicate`` is told of each duplicate. In a flow
the key is taken from each `Held` value and a duplicate's receipts are released.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol, TypeVar, overload

from reactivex import Observable, abc

from reagents.operators._flow import Flow, derived

_T = TypeVar("_T")
_E = TypeVar("_E", bound="HasEventId")


class HasEventId(Protocol):
    """Anything with an ``event_id``, such as ``reagents.AgentEvent``."""

    @property
    def event_id(self) -> str: ...


def event_id_of(item: HasEventId) -> str:
    """The default deduplication key: the item's ``event_id``."""
    return item.event_id


@overload
def deduplicate(
    *,
    capacity: int = ...,
    on_duplicate: Callable[[_E], object] | None = ...,
) -> Callable[[Observable[_E]], Observable[_E]]: ...


@overload
def deduplicate(
    key: Callable[[_T], Hashable],
    capacity: int = ...,
    *,
    on_duplicate: Callable[[_T], object] | None = ...,
) -> Callable[[Observable[_T]], Observable[_T]]: ...


def deduplicate(
    key: Callable[[Any], Hashable] = event_id_of,
    capacity: int = 10_000,
    *,
    on_duplicate: Callable[[Any], object] | None = None,
) -> Callable[[Observable[Any]], Observable[Any]]:
    """Pass each item whose ``key(item)`` is not among the last ``capacity`` distinct keys.

    A duplicate is dropped, refreshes its key's recency, and is handed to
    ``on_duplicate``. Memory is per subscription. An exception from ``key`` or
    ``on_duplicate`` ends the stream with that error, as in ``map``.

    Raises:
        ValueError: if ``capacity`` is less than 1.
    """
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be an int >= 1, got {capacity!r}")

    def _deduplicate(source: Observable[Any]) -> Observable[Any]:
        def subscribe(
            observer: abc.ObserverBase[Any],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            seen: OrderedDict[Hashable, None] = OrderedDict()

            def on_next(item: Any) -> None:
                value = item.value if held else item
                try:
                    item_key = key(value)
                    duplicate = item_key in seen
                    if duplicate:
                        seen.move_to_end(item_key)
                        if on_duplicate is not None:
                            on_duplicate(value)
                    else:
                        seen[item_key] = None
                        if len(seen) > capacity:
                            seen.popitem(last=False)
                except Exception as error:
                    if held:
                        item.fail(error)
                    else:
                        observer.on_error(error)
                    return
                if not duplicate:
                    observer.on_next(item)
                elif held:
                    item.release()

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )

        if isinstance(source, Flow):
            held = True
            return derived(source, subscribe, "deduplicate")
        held = False
        return Observable(subscribe)

    return _deduplicate


__all__ = ["HasEventId", "deduplicate", "event_id_of"]
