"""Choreography: fan-out, reactions without a coordinator, and the causation chain."""

from __future__ import annotations

from pathlib import Path

import pytest

from reagents import AgentEvent
from tests.examples import load_example, run_example

choreography = load_example("choreography")


def conversation(events: list[AgentEvent], order: str) -> list[AgentEvent]:
    return [e for e in events if e.correlation_id == order]


async def test_an_affordable_order_flows_from_agent_to_agent_until_shipped() -> None:
    shop = choreography.build_shop()
    placed = choreography.place(shop.pipeline, "o1", "lamp", 2, 40.0)
    await shop.pipeline.run()

    events = conversation(shop.everything.events, "o1")
    assert [(e.source_agent, e.event_type) for e in events] == [
        ("shop", "order.placed"),
        ("inventory", "stock.reserved"),
        ("payment", "payment.captured"),
        ("shipping", "order.shipped"),
    ]
    # each event names the one it reacts to, back to the order
    assert [e.causation_id for e in events] == [None, *(e.event_id for e in events[:-1])]
    assert events[0] == placed
    assert events[-1].payload == {"tracking": "T-o1"}
    assert shop.warehouse.stock == {"lamp": 1}


async def test_order_placed_fans_out_to_every_subscriber() -> None:
    shop = choreography.build_shop()
    choreography.place(shop.pipeline, "o1", "lamp", 1, 10.0)
    choreography.place(shop.pipeline, "o2", "desk", 1, 10.0)
    await shop.pipeline.run()
    assert shop.audited == ["o1: lamp x1", "o2: desk x1"]  # audit saw both
    stats = shop.pipeline.stats()
    assert stats["inventory"].processed == 2  # and so did inventory
    assert conversation(shop.everything.events, "o2")[-1].event_type == "stock.unavailable"


async def test_a_failed_payment_is_undone_by_the_inventory_reacting_to_it() -> None:
    shop = choreography.build_shop()
    choreography.place(shop.pipeline, "o1", "lamp", 3, 500.0)
    await shop.pipeline.run()
    events = conversation(shop.everything.events, "o1")
    assert choreography.causation_chain(events, events[-1]) == [
        "shop: order.placed",
        "inventory: stock.reserved",
        "payment: payment.failed",
        "inventory: stock.released",
    ]
    assert shop.warehouse.stock == {"lamp": 3}
    assert shop.warehouse.held == {}


@pytest.mark.integration
def test_the_script_prints_each_order_s_chain(tmp_path: Path) -> None:
    stdout = run_example("choreography", cwd=tmp_path)
    lines = stdout.splitlines()
    assert lines[0].endswith("payment: payment.captured -> shipping: order.shipped")
    assert lines[1].endswith("payment: payment.failed -> inventory: stock.released")
    assert lines[-1] == "stock left: {'lamp': 2}"
