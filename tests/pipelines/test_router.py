"""`Router`: subscriptions indexed by event type, candidates cached, matched in rank order."""

from __future__ import annotations

import pytest

from reagents import (
    AgentEvent,
    MemoryDeadLetters,
    Pipeline,
    addressed_only,
    any_event,
    where,
    where_content,
    where_type,
)
from reagents.operators.filters import Filter
from reagents.pipelines import router as router_module
from reagents.pipelines.router import Router


def event(event_type: str = "alert", **fields: object) -> AgentEvent:
    return AgentEvent(event_type=event_type, **fields)


def candidates(router: Router[str], event_type: str) -> list[str]:
    return [subscriber for subscriber, _ in router.candidates(event_type)]


def test_exact_types_are_filed_under_their_type() -> None:
    router: Router[str] = Router()
    router.add("orders", where_type("order.created"))
    router.add("both", where("type = order.created OR type = order.paid"))
    assert router.index() == {"order.created": ["orders", "both"], "order.paid": ["both"]}
    assert candidates(router, "order.created") == ["orders", "both"]
    assert candidates(router, "order.paid") == ["both"]
    assert candidates(router, "order.cancelled") == []
    assert candidates(router, "order") == []


def test_prefixes_are_filed_under_prefix_star() -> None:
    router: Router[str] = Router()
    router.add("orders", where_type("order.*"))
    router.add("all-o", where_type("o*"))
    assert router.index() == {"order.*": ["orders"], "o*": ["all-o"]}
    assert candidates(router, "order.shipped") == ["orders", "all-o"]
    assert candidates(router, "orders") == ["all-o"]  # "order." is not a prefix of it
    assert candidates(router, "quote") == []


def test_subscriptions_to_any_type_are_filed_under_star_and_meet_every_event() -> None:
    router: Router[str] = Router()
    router.add("everything", any_event())
    router.add("star", where_type("*"))
    router.add("content", where_content("urgent"))  # any type: the index cannot narrow it
    router.add("alerts", where_type("alert"))
    assert router.index() == {"*": ["everything", "star", "content"], "alert": ["alerts"]}
    assert candidates(router, "whatever") == ["everything", "star", "content"]
    assert candidates(router, "alert") == ["everything", "star", "content", "alerts"]


def test_an_addressed_only_subscription_is_filed_nowhere() -> None:
    router: Router[str] = Router()
    router.add("server", addressed_only())
    assert len(router) == 1
    assert router.index() == {}
    assert candidates(router, "request") == []
    assert [s for s, _ in router.subscriptions()] == ["server"]


def test_types_are_case_folded_and_the_filter_still_decides() -> None:
    router: Router[str] = Router()
    router.add("folded", where_type("Order.Created"))
    router.add("strict", where_type("Order.Created", case_sensitive=True))
    router.add("prefix", where_type("ORDER.*"))
    assert router.index() == {"order.created": ["folded", "strict"], "order.*": ["prefix"]}
    # both are candidates whatever the case; the case-sensitive filter rejects the others
    assert candidates(router, "ORDER.CREATED") == ["folded", "strict", "prefix"]
    assert router.match(event("ORDER.CREATED")) == ["folded", "prefix"]
    assert router.match(event("Order.Created")) == ["folded", "strict", "prefix"]


def test_candidates_pass_the_type_but_match_runs_the_whole_filter() -> None:
    router: Router[str] = Router()
    router.add("big", where("type = quote AND payload.price > 100"))
    assert candidates(router, "quote") == ["big"]
    assert router.match(event("quote", payload={"price": 101})) == ["big"]
    assert router.match(event("quote", payload={"price": 99})) == []


def test_candidates_are_cached_per_event_type() -> None:
    router: Router[str] = Router()
    router.add("alerts", where_type("alert"))
    first = router.candidates("alert")
    assert router.candidates("alert") is first
    assert router.candidates("ALERT") is not first  # cached under the type as written
    assert candidates(router, "ALERT") == ["alerts"]


def test_adding_a_subscription_invalidates_the_cache() -> None:
    router: Router[str] = Router()
    router.add("alerts", where_type("alert"))
    assert candidates(router, "alert") == ["alerts"]
    assert candidates(router, "quote") == []  # an empty answer is cached too
    router.add("prefix", where_type("al*"))
    router.add("quotes", where_type("quote"))
    assert candidates(router, "alert") == ["alerts", "prefix"]
    assert candidates(router, "quote") == ["quotes"]


def test_the_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(router_module, "_CACHE_LIMIT", 3)
    router: Router[str] = Router()
    router.add("any", any_event())
    kept = router.candidates("t0")
    for n in range(1, 4):
        router.candidates(f"t{n}")
    assert router.candidates("t0") is not kept  # cleared when full, computed again
    assert candidates(router, "t0") == ["any"]


def test_matches_come_out_by_rank_then_registration() -> None:
    router: Router[str] = Router()
    router.add("late", where_type("alert"), rank=9)
    router.add("urgent", where_type("alert"), rank=1)
    router.add("middle", where_type("alert"))
    router.add("also-urgent", where_type("alert"), rank=1)
    assert router.match(event()) == ["urgent", "also-urgent", "middle", "late"]


def test_rank_orders_matches_across_exact_prefix_and_any_entries() -> None:
    router: Router[str] = Router()
    router.add("any-5", any_event())
    router.add("exact-5", where_type("order.created"))
    router.add("prefix-1", where_type("order.*"), rank=1)
    router.add("exact-9", where_type("order.created"), rank=9)
    router.add("any-1", any_event(), rank=1)
    router.add("prefix-5", where_type("order.*"))
    assert router.match(event("order.created")) == [
        "prefix-1",
        "any-1",
        "any-5",
        "exact-5",
        "prefix-5",
        "exact-9",
    ]
    # the index lists each key's subscribers in registration order, ranks aside
    assert router.index() == {
        "order.created": ["exact-5", "exact-9"],
        "order.*": ["prefix-1", "prefix-5"],
        "*": ["any-5", "any-1"],
    }


def test_a_subscriber_reachable_by_two_keys_matches_once() -> None:
    router: Router[str] = Router()
    router.add("twice", where_type("order.created") | where_type("order.*"))
    assert router.index() == {"order.created": ["twice"], "order.*": ["twice"]}
    assert router.match(event("order.created")) == ["twice"]


def test_an_agents_priority_orders_its_delivery_among_the_subscribers() -> None:
    pipeline = Pipeline("ranks", dead_letters=MemoryDeadLetters())
    order: list[str] = []

    @pipeline.agent(subscription="type = alert", priority=9)
    def late(e: AgentEvent) -> None:
        order.append("late")

    @pipeline.agent(subscription=where("type = alert"), priority=1)
    def urgent(e: AgentEvent) -> None:
        order.append("urgent")

    assert pipeline.subscriptions_index() == {"alert": ["late", "urgent"]}
    assert [r.id for r in pipeline._bus.agent_router.match(event())] == ["urgent", "late"]


class _PassesAllButRaises(Filter):
    """Claims every event passes; asking its predicate would raise."""

    def __init__(self) -> None:
        super().__init__(self._refuse)

    @staticmethod
    def _refuse(event: AgentEvent) -> bool:
        raise AssertionError("a filter every event passes was asked")

    @property
    def passes_all(self) -> bool:
        return True


def test_subscribers_that_take_every_event_are_matched_without_asking_their_filters() -> None:
    router: Router[str] = Router()
    router.add("late", _PassesAllButRaises(), rank=9)
    router.add("everyone", any_event(), rank=1)
    event = AgentEvent(event_type="tick")
    assert router.match(event) == ["everyone", "late"]
    assert router.match(event) == ["everyone", "late"]  # from the cache, a fresh list
    router.match(event).append("not kept")
    assert router.match(event) == ["everyone", "late"]
    router.add("ticks", where_type("tick"), rank=5)  # one filter to ask: all are asked
    assert router.match(event) == ["everyone", "ticks"]  # the raising one: no match
    assert router.match(AgentEvent(event_type="tock")) == ["everyone", "late"]
