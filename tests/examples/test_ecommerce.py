"""The e-commerce saga: an order that ships, one declined, one unshippable; state checked."""

from __future__ import annotations

from typing import Any

import pytest

from reagents.patterns.saga_store import Action, Phase, SagaStatus
from tests.examples import load_example, run_example

ecommerce = load_example("ecommerce")
ORDERS: dict[str, dict[str, Any]] = ecommerce.ORDERS


async def run(*order_ids: str) -> tuple[Any, dict[str, Any]]:
    shop = ecommerce.build_shop()
    records = await ecommerce.run_orders(shop, {o: ORDERS[o] for o in order_ids})
    return shop, records


async def test_a_good_order_reserves_charges_and_ships() -> None:
    shop, records = await run("order-ok")
    record = records["order-ok"]
    assert record.status is SagaStatus.COMPLETED
    assert shop.inventory.stock == {"lamp": 8, "desk": 4}
    assert shop.inventory.reservations == {"order-ok": ORDERS["order-ok"]["items"]}
    assert shop.payments.spent == {"visa-1": 340.0}
    assert shop.shipping.shipments == {"order-ok": "TRACK-0001"}
    assert record.results()["ship"] == {"tracking": "TRACK-0001"}
    assert shop.status_events.event_types()[-1] == "saga.completed"


async def test_a_declined_payment_releases_the_stock() -> None:
    shop, records = await run("order-declined")
    record = records["order-declined"]
    assert record.status is SagaStatus.COMPENSATED
    assert record.reason == (
        "step 'charge' rejected: declined: 500.00 is over the limit of card visa-2"
    )
    assert shop.inventory.stock == ecommerce.STOCK
    assert shop.inventory.reservations == {}
    assert shop.payments.spent == {}
    assert shop.shipping.shipments == {}
    assert record.last("reserve", Phase.COMPENSATION).action is Action.DONE
    assert record.last("charge", Phase.COMPENSATION) is None  # declined: nothing to refund


async def test_an_unshippable_address_refunds_the_payment_and_releases_the_stock() -> None:
    shop, records = await run("order-unshippable")
    record = records["order-unshippable"]
    assert record.status is SagaStatus.COMPENSATED
    assert record.reason == "step 'ship' rejected: no delivery to country 'AQ'"
    assert shop.inventory.stock == ecommerce.STOCK
    assert shop.payments.spent == {"visa-1": 0.0}
    assert shop.payments.charges == {}
    compensated = [
        e.step_id for e in record.log if e.phase is Phase.COMPENSATION and e.action is Action.DONE
    ]
    assert compensated == ["charge", "reserve"]  # refund first, then release


async def test_three_orders_in_a_row_leave_only_the_good_one_applied() -> None:
    shop, records = await run(*ORDERS)
    assert [r.status for r in records.values()] == [
        SagaStatus.COMPLETED,
        SagaStatus.COMPENSATED,
        SagaStatus.COMPENSATED,
    ]
    assert shop.inventory.stock == {"lamp": 8, "desk": 4}
    assert shop.payments.spent == {"visa-1": 340.0}
    assert list(shop.shipping.shipments) == ["order-ok"]


@pytest.mark.integration
def test_the_script_prints_every_order(tmp_path: Any) -> None:
    stdout = run_example("ecommerce", cwd=tmp_path)
    for text in ("order-ok", "completed", "order-declined", "compensated", "stock: {'lamp': 8"):
        assert text in stdout
    assert list(tmp_path.iterdir()) == []  # nothing written to the working directory
