"""Indexed subscriptions: find the subscribers of an event without asking every one.

Each subscription's filter says which event types it can ever accept (exact types,
prefixes, or any). The router files subscribers under those keys, so an event only
meets the filters of its candidates; the candidate list per event type is computed
once and cached until the subscriptions change.

A filter that raises on an event (a user's predicate, a JSONPath over unexpected data)
does not match that event: the router hands the error to ``on_filter_error`` and goes
on with the other subscribers, so one bad subscription never ends a run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Generic, TypeVar

from reagents.events import AgentEvent
from reagents.operators.filters import Filter

__all__ = ["FilterErrorHandler", "Router"]

T = TypeVar("T")

FilterErrorHandler = Callable[[T, Filter, AgentEvent, Exception], None]
"""Told of each (subscriber, its filter, the event, what the filter raised)."""

logger = logging.getLogger(__name__)

_CACHE_LIMIT = 10_000


def _log_filter_error(
    subscriber: object, subscription: Filter, event: AgentEvent, error: Exception
) -> None:
    logger.warning(
        "subscriber %s: filter %s raised on event %s (counted as no match): %r",
        subscriber,
        subscription.describe(),
        event.event_id,
        error,
    )


class Router(Generic[T]):
    """Subscribers filed by the event types their filters accept.

    Matches come out ordered by rank (lower first, as with event priorities), then
    by registration order.
    """

    def __init__(self, on_filter_error: FilterErrorHandler[T] | None = None) -> None:
        self._on_filter_error: FilterErrorHandler[T] = on_filter_error or _log_filter_error
        self._entries: list[tuple[T, Filter]] = []
        self._filters: dict[int, Filter] = {}  # id(filter.predicate) -> filter
        self._ranks: list[int] = []
        self._exact: dict[str, list[int]] = {}
        self._prefixes: dict[str, list[int]] = {}
        self._anywhere: list[int] = []
        self._cache: dict[str, tuple[tuple[T, Callable[[AgentEvent], bool]], ...]] = {}
        self._everyone: dict[str, tuple[T, ...]] = {}  # types whose candidates pass all

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def accepts_any(self) -> bool:
        """True if a subscriber may accept events of any type (no type to index it by)."""
        return bool(self._anywhere)

    def add(self, subscriber: T, subscription: Filter, rank: int = 5) -> None:
        """File ``subscriber`` under the event types ``subscription`` can accept."""
        index = len(self._entries)
        self._entries.append((subscriber, subscription))
        self._filters[id(subscription.predicate)] = subscription
        self._ranks.append(rank)
        types = subscription.accepted_types()
        if types.any:
            self._anywhere.append(index)
        else:
            for name in types.exact:
                self._exact.setdefault(name, []).append(index)
            for prefix in types.prefixes:
                self._prefixes.setdefault(prefix, []).append(index)
        self._cache.clear()
        self._everyone.clear()

    def remove(self, unwanted: Callable[[T], bool]) -> list[T]:
        """Take out the subscribers ``unwanted`` picks (the index is rebuilt); return them."""
        entries = list(zip(self._entries, self._ranks, strict=True))
        self._entries, self._ranks, self._filters = [], [], {}
        self._exact, self._prefixes, self._anywhere = {}, {}, []
        removed = []
        for (subscriber, subscription), rank in entries:
            if unwanted(subscriber):
                removed.append(subscriber)
            else:
                self.add(subscriber, subscription, rank)
        self._cache.clear()
        self._everyone.clear()
        return removed

    def candidates(self, event_type: str) -> tuple[tuple[T, Callable[[AgentEvent], bool]], ...]:
        """The subscribers that may accept ``event_type``, with their compiled filters."""
        cached = self._cache.get(event_type)
        if cached is not None:
            return cached
        key = event_type.casefold()
        indices = set(self._anywhere)
        indices.update(self._exact.get(key, ()))
        for prefix, listed in self._prefixes.items():
            if key.startswith(prefix):
                indices.update(listed)
        ranks = self._ranks
        ordered = sorted(indices, key=lambda i: (ranks[i], i))
        found = tuple((self._entries[i][0], self._entries[i][1].predicate) for i in ordered)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
            self._everyone.clear()
        self._cache[event_type] = found
        if all(self._entries[i][1].passes_all for i in ordered):
            self._everyone[event_type] = tuple(sub for sub, _ in found)
        return found

    def match(self, event: AgentEvent) -> list[T]:
        """The subscribers whose filters accept ``event``, by rank then registration.

        A filter that raises counts as not matching; ``on_filter_error`` is told.
        """
        event_type = event.event_type
        everyone = self._everyone.get(event_type)
        if everyone is None:
            found = self.candidates(event_type)
            everyone = self._everyone.get(event_type)
            if everyone is None:
                try:
                    return [sub for sub, accepts in found if accepts(event)]
                except Exception:  # rare: filters run again one by one, to tell which raised
                    return self._match_one_by_one(event, found)
        return list(everyone)  # every candidate passes every event: no filter asked

    def _match_one_by_one(
        self, event: AgentEvent, found: tuple[tuple[T, Callable[[AgentEvent], bool]], ...]
    ) -> list[T]:
        matched = []
        for subscriber, accepts in found:
            try:
                if accepts(event):
                    matched.append(subscriber)
            except Exception as error:
                self._on_filter_error(subscriber, self._filters[id(accepts)], event, error)
        return matched

    def subscriptions(self) -> list[tuple[T, Filter]]:
        """Every subscriber with its filter (for graphs and introspection)."""
        return list(self._entries)

    def index(self) -> dict[str, list[T]]:
        """What is filed where: ``type``, ``prefix*`` and ``*`` keys → subscribers."""
        table: dict[str, list[T]] = {}
        for name, listed in self._exact.items():
            table[name] = [self._entries[i][0] for i in listed]
        for prefix, listed in self._prefixes.items():
            table[prefix + "*"] = [self._entries[i][0] for i in listed]
        if self._anywhere:
            table["*"] = [self._entries[i][0] for i in self._anywhere]
        return table
