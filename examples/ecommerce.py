"""The article's e-commerce order as a saga: inventory → payment → shipping, undone on failure.

Three agents behave like the real thing, each keeping its own state:

* ``inventory`` holds stock; ``inventory.reserve`` takes the order's items out of stock
  (or rejects the order when one is short), ``inventory.release`` puts them back.
* ``payment`` charges a card up to its limit; ``payment.charge`` is declined when the
  amount is over the card's limit, ``payment.refund`` gives the money back.
* ``shipping`` books a shipment; ``shipping.book`` fails for a country it does not
  deliver to, ``shipping.cancel`` cancels a booking.

The `SagaCoordinator` sends each command with an idempotency key, every agent is
wrapped in `idempotent`, and when a step fails the coordinator compensates every step
that completed, last first. Three orders are run: one that ships, one whose payment
is declined (its stock is released), one whose address is not served (its payment is
refunded and its stock released). Run it::

    python examples/ecommerce.py
    reagents run examples/ecommerce.py      # the same orders, as events (build_pipeline)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from reagents.events import AgentEvent
from reagents.patterns.idempotency import MemoryIdempotencyStore, idempotent, reject
from reagents.patterns.saga import Saga, SagaCoordinator, SagaStep
from reagents.patterns.saga_store import SagaRecord
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources.memory import MemorySource

ORDER_SAGA = Saga(
    "order",
    (
        SagaStep("reserve", "inventory", "inventory.reserve", "inventory.release", timeout=5),
        SagaStep("charge", "payment", "payment.charge", "payment.refund", timeout=5),
        SagaStep("ship", "shipping", "shipping.book", "shipping.cancel", timeout=5),
    ),
)

ORDERS: dict[str, dict[str, Any]] = {
    "order-ok": {
        "items": [{"sku": "lamp", "qty": 2}, {"sku": "desk", "qty": 1}],
        "card": "visa-1",
        "amount": 340.0,
        "address": {"street": "1 Main St", "country": "US"},
    },
    "order-declined": {
        "items": [{"sku": "desk", "qty": 2}],
        "card": "visa-2",
        "amount": 500.0,
        "address": {"street": "2 High St", "country": "GB"},
    },
    "order-unshippable": {
        "items": [{"sku": "lamp", "qty": 1}],
        "card": "visa-1",
        "amount": 45.0,
        "address": {"street": "3 Rue Neuve", "country": "AQ"},
    },
}

STOCK = {"lamp": 10, "desk": 5}
CARD_LIMITS = {"visa-1": 1000.0, "visa-2": 200.0}
SHIPS_TO = frozenset({"US", "CA", "GB", "FR", "DE"})


@dataclass
class Inventory:
    """Stock on hand and the reservations holding some of it, by saga."""

    stock: dict[str, int]
    reservations: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def handle(self, event: AgentEvent) -> Any:
        saga_id = event.payload["saga_id"]
        if event.event_type == "inventory.release":
            items = self.reservations.pop(saga_id, [])
            for item in items:
                self.stock[item["sku"]] += item["qty"]
            return {"released": items}
        items = event.payload["items"]
        short = [i["sku"] for i in items if self.stock.get(i["sku"], 0) < i["qty"]]
        if short:
            return reject(event, f"out of stock: {', '.join(short)}")
        for item in items:
            self.stock[item["sku"]] -= item["qty"]
        self.reservations[saga_id] = items
        return {"reservation": saga_id}


@dataclass
class Payments:
    """Cards with a limit, what each has been charged, and the charges by saga."""

    limits: dict[str, float]
    spent: dict[str, float] = field(default_factory=dict)
    charges: dict[str, tuple[str, float]] = field(default_factory=dict)

    def handle(self, event: AgentEvent) -> Any:
        saga_id = event.payload["saga_id"]
        if event.event_type == "payment.refund":
            charge = self.charges.pop(saga_id, None)
            if charge is not None:
                self.spent[charge[0]] -= charge[1]
            return {"refunded": charge[1] if charge else 0.0}
        card, amount = event.payload["card"], float(event.payload["amount"])
        already = self.spent.get(card, 0.0)
        if already + amount > self.limits.get(card, 0.0):
            return reject(event, f"declined: {amount:.2f} is over the limit of card {card}")
        self.spent[card] = already + amount
        self.charges[saga_id] = (card, amount)
        return {"charge": saga_id, "amount": amount}


@dataclass
class Shipping:
    """Countries served and the shipments booked, by saga."""

    ships_to: frozenset[str]
    shipments: dict[str, str] = field(default_factory=dict)

    def handle(self, event: AgentEvent) -> Any:
        saga_id = event.payload["saga_id"]
        if event.event_type == "shipping.cancel":
            return {"cancelled": self.shipments.pop(saga_id, None)}
        country = event.payload["address"]["country"]
        if country not in self.ships_to:
            return reject(event, f"no delivery to country {country!r}")
        self.shipments[saga_id] = f"TRACK-{len(self.shipments) + 1:04d}"
        return {"tracking": self.shipments[saga_id]}


@dataclass
class Shop:
    """The example's pipeline, coordinator and agents' state, ready to run."""

    pipeline: Pipeline
    coordinator: SagaCoordinator
    inventory: Inventory
    payments: Payments
    shipping: Shipping
    status_events: MemorySink


def build_shop(store_path: str = ":memory:") -> Shop:
    """Wire the three agents and a saga coordinator (state kept in ``store_path``, which
    the coordinator opens and `run_orders` closes)."""
    pipeline = Pipeline("ecommerce", dead_letters=MemoryDeadLetters())
    inventory, payments = Inventory(dict(STOCK)), Payments(dict(CARD_LIMITS))
    shipping = Shipping(SHIPS_TO)
    for agent_id, handler in [
        ("inventory", inventory.handle),
        ("payment", payments.handle),
        ("shipping", shipping.handle),
    ]:
        keys = MemoryIdempotencyStore()
        pipeline.add_agent(
            Agent(idempotent(handler, keys), id=agent_id, subscription=f"type = {agent_id}.*")
        )
    status_events = MemorySink("type = saga.*", name="saga-status")
    pipeline.add_sink(status_events)
    coordinator = SagaCoordinator(pipeline, store_path, [ORDER_SAGA])
    return Shop(pipeline, coordinator, inventory, payments, shipping, status_events)


async def run_orders(shop: Shop, orders: dict[str, dict[str, Any]]) -> dict[str, SagaRecord]:
    """Run each order's saga, one after the other, on a running pipeline; then close the
    coordinator (and its saga store) before the pipeline stops."""
    async with shop.pipeline.serving(), shop.coordinator:
        return {
            order_id: await shop.coordinator.run("order", order, saga_id=order_id)
            for order_id, order in orders.items()
        }


class Outcomes(MemorySink):
    """The ``order.closed`` events. The pipeline closes its sinks when it stops; this one
    then closes the saga coordinator too (and the store it opened)."""

    def __init__(self, coordinator: SagaCoordinator) -> None:
        super().__init__("type = order.closed", name="outcomes")
        self.coordinator = coordinator

    async def close(self) -> None:
        """Close the sink, then the coordinator."""
        await super().close()
        await self.coordinator.close()


def build_pipeline() -> Pipeline:
    """The shop as ``reagents run`` runs it: `ORDERS` come in as ``order.placed`` events
    (source ``orders``); a ``checkout`` agent runs each one's saga, one order at a time,
    and answers with ``order.closed`` (the saga's final status and reason)."""
    shop = build_shop()
    shop.pipeline.add_sink(Outcomes(shop.coordinator))

    async def checkout(event: AgentEvent) -> AgentEvent:
        order_id = str(event.payload["order_id"])
        record = await shop.coordinator.run("order", event.payload["order"], saga_id=order_id)
        payload = {"order_id": order_id, "status": record.status.value, "reason": record.reason}
        return event.derive("order.closed", payload)

    shop.pipeline.add_agent(
        Agent(checkout, id="checkout", subscription="type = order.placed", max_concurrent=1)
    )
    placed = [
        AgentEvent(
            event_type="order.placed",
            source_agent="shop",
            payload={"order_id": order_id, "order": order},
            correlation_id=order_id,
        )
        for order_id, order in ORDERS.items()
    ]
    shop.pipeline.add_source(MemorySource.from_events(placed, name="orders"))
    return shop.pipeline


def report(shop: Shop, records: dict[str, SagaRecord]) -> Table:
    """One row per order: its saga's end status and why."""
    table = Table(title="Orders")
    for column in ("order", "status", "steps applied", "reason"):
        table.add_column(column)
    for order_id, record in records.items():
        table.add_row(
            order_id, record.status.value, ", ".join(record.results()), record.reason or ""
        )
    return table


def main() -> None:
    """Run the three orders and print their outcome and the agents' final state."""
    shop = build_shop()
    records = asyncio.run(run_orders(shop, ORDERS))
    console = Console()
    console.print(report(shop, records))
    console.print(f"stock: {shop.inventory.stock}")
    console.print(f"card spend: {shop.payments.spent}")
    console.print(f"shipments: {shop.shipping.shipments}")


if __name__ == "__main__":
    main()
