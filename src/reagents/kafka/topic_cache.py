"""`TopicCache`: which topics the cluster has, so nothing is produced to a missing one.

aiokafka asks for a topic's metadata with ``allow_auto_topic_creation`` always on, and
a broker configured to auto-create (Tansu is; Kafka is by default) then creates any
name it is sent: an event addressed to an agent nobody runs would silently land in a
new topic nobody reads. A producer asks this cache first. A known topic costs a set
lookup; an unknown one refreshes the list of topics from the cluster's metadata (a
request that creates nothing), at most once every ``recheck`` seconds, so a flood of
misaddressed events does not become a flood of metadata requests while a topic
created a moment ago is still found.

    cache = TopicCache(list_topics, recheck=1.0)
    await cache.missing(["shop_payments", "shop_ghost"])  # ["shop_ghost"]
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection, Iterable

__all__ = ["TopicCache"]


class TopicCache:
    """The topics ``fetch`` last listed; an unknown name triggers a (rate-limited) refresh."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[Collection[str]]],
        *,
        recheck: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.recheck = recheck
        self._clock = clock
        self._known: frozenset[str] = frozenset()
        self._fetched_at: float | None = None
        self._lock: asyncio.Lock | None = None
        self.refreshes = 0

    def __contains__(self, topic: object) -> bool:
        """Whether ``topic`` was listed last time (no request)."""
        return topic in self._known

    async def missing(self, topics: Iterable[str]) -> list[str]:
        """The ones of ``topics`` the cluster does not have (refreshing once if needed)."""
        known = self._known
        unknown = [topic for topic in topics if topic not in known]
        if not unknown:
            return unknown
        if self._lock is None:
            self._lock = asyncio.Lock()
        seen = self.refreshes
        async with self._lock:  # callers that waited for a refresh use its answer
            if self.refreshes == seen and self._stale():
                await self.refresh()
        known = self._known
        return [topic for topic in unknown if topic not in known]

    async def refresh(self) -> None:
        """List the cluster's topics now (a topic deleted since is forgotten)."""
        self._known = frozenset(await self._fetch())
        self._fetched_at = self._clock()
        self.refreshes += 1

    def _stale(self) -> bool:
        fetched = self._fetched_at
        return fetched is None or self._clock() - fetched >= self.recheck
