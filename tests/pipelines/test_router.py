"""`Router`: indexed subscriptions, matched in rank order."""

from __future__ import annotations

from reagents import AgentEvent, MemoryDeadLetters, Pipeline, where, where_type
from reagents.pipelines.router import Router


def event(event_type: str = "alert", **fields: object) -> AgentEvent:
    return AgentEvent(event_type=event_type, **fields)


def test_matches_come_out_by_rank_then_registration() -> None:
    router: Router[str] = Router()
    router.add("late", where_type("alert"), rank=9)
    router.add("urgent", where_type("alert"), rank=1)
    router.add("middle", where_type("alert"))
    router.add("also-urgent", where_type("alert"), rank=1)
    assert router.match(event()) == ["urgent", "also-urgent", "middle", "late"]


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
