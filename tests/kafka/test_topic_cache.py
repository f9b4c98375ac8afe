"""`TopicCache`: known topics cost nothing, unknown ones one rate-limited refresh."""

from __future__ import annotations

import asyncio

from reagents.kafka import TopicCache


class Cluster:
    """Topics listed on request, counting the requests."""

    def __init__(self, *topics: str) -> None:
        self.topics = set(topics)
        self.requests = 0
        self.now = 0.0

    async def list_topics(self) -> set[str]:
        self.requests += 1
        await asyncio.sleep(0)  # a real request suspends: concurrent callers overlap
        return set(self.topics)

    def cache(self, recheck: float = 1.0) -> TopicCache:
        return TopicCache(self.list_topics, recheck=recheck, clock=lambda: self.now)


async def test_known_topics_are_answered_from_the_cache() -> None:
    cluster = Cluster("a", "b")
    cache = cluster.cache()
    assert await cache.missing(["a"]) == []
    assert await cache.missing(["a", "b"]) == []
    assert "b" in cache
    assert cluster.requests == 1


async def test_an_unknown_topic_refreshes_at_most_once_per_recheck() -> None:
    cluster = Cluster("a")
    cache = cluster.cache(recheck=1.0)
    assert await cache.missing(["a", "ghost"]) == ["ghost"]
    assert await cache.missing(["ghost"]) == ["ghost"]
    assert cluster.requests == 1  # a flood of misaddressed events asks once

    cluster.topics.add("ghost")  # created meanwhile
    cluster.now = 0.5
    assert await cache.missing(["ghost"]) == ["ghost"]
    cluster.now = 1.0
    assert await cache.missing(["ghost"]) == []
    assert cluster.requests == 2


async def test_concurrent_callers_share_one_refresh_and_deleted_topics_are_forgotten() -> None:
    cluster = Cluster("a", "b")
    cache = cluster.cache(recheck=0)
    answers = await asyncio.gather(*(cache.missing(["b", "c"]) for _ in range(5)))
    assert answers == [["c"]] * 5
    assert cluster.requests == 1  # not one each
    cluster.topics.discard("b")
    await cache.refresh()
    assert "b" not in cache
