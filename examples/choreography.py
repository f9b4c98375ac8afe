"""Choreography: agents react to each other's events; no coordinator decides the order.

Each agent subscribes to the event types it cares about and publishes what it did::

    order.placed ─┬─> inventory ─> stock.reserved ─> payment ─> payment.captured
                 │                                           │
                 └─> audit           shipping <──────────────┘ ─> order.shipped

    payment.failed ─> inventory ─> stock.released     (the payment was over the limit)

``order.placed`` fans out to ``inventory`` and ``audit``; a failed payment is undone by
``inventory`` reacting to ``payment.failed`` (choreographed compensation). Every event
keeps the order's ``correlation_id`` and names the event it reacts to as
``causation_id``, so `causation_chain` rebuilds how an order unfolded. Run it::

    python examples/choreography.py
    reagents run examples/choreography.py
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from rich.console import Console

from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources.memory import MemorySource

CARD_LIMIT = 100.0


@dataclass
class Warehouse:
    """Stock by SKU and what each order holds."""

    stock: dict[str, int]
    held: dict[str, tuple[str, int]] = field(default_factory=dict)

    def on_event(self, event: AgentEvent) -> AgentEvent | None:
        order = event.correlation_id or event.event_id
        if event.event_type == "payment.failed":
            sku, qty = self.held.pop(order)
            self.stock[sku] += qty
            return event.derive("stock.released", {"sku": sku, "qty": qty})
        sku, qty = event.payload["sku"], event.payload["qty"]
        if self.stock.get(sku, 0) < qty:
            return event.derive("stock.unavailable", {"sku": sku})
        self.stock[sku] -= qty
        self.held[order] = (sku, qty)
        return event.derive("stock.reserved", {**event.payload})


def pay(event: AgentEvent) -> AgentEvent:
    """Capture the amount, or fail it when it is over the card limit."""
    amount = float(event.payload["amount"])
    if amount > CARD_LIMIT:
        return event.derive("payment.failed", {"reason": f"{amount:.2f} over the card limit"})
    return event.derive("payment.captured", {**event.payload})


def ship(event: AgentEvent) -> AgentEvent:
    """Book the shipment of a paid order."""
    return event.derive("order.shipped", {"tracking": f"T-{event.correlation_id}"})


@dataclass
class Shop:
    """The pipeline, the warehouse's state, what the audit agent saw, and every event."""

    pipeline: Pipeline
    warehouse: Warehouse
    audited: list[str]
    everything: MemorySink


def build_shop(stock: dict[str, int] | None = None) -> Shop:
    """Four agents wired only by their subscriptions, plus a sink that sees everything."""
    warehouse = Warehouse(dict(stock or {"lamp": 3}))
    pipeline = Pipeline("choreography", dead_letters=MemoryDeadLetters())
    inventory_types = "type IN ('order.placed', 'payment.failed')"
    pipeline.add_agent(Agent(warehouse.on_event, id="inventory", subscription=inventory_types))
    pipeline.add_agent(Agent(pay, id="payment", subscription="type = stock.reserved"))
    pipeline.add_agent(Agent(ship, id="shipping", subscription="type = payment.captured"))
    audited: list[str] = []

    def audit(event: AgentEvent) -> None:
        audited.append(f"{event.correlation_id}: {event.payload['sku']} x{event.payload['qty']}")

    pipeline.add_agent(Agent(audit, id="audit", subscription="type = order.placed"))
    everything = MemorySink(name="everything")
    pipeline.add_sink(everything)
    return Shop(pipeline, warehouse, audited, everything)


ORDERS = (("order-1", "lamp", 1, 40.0), ("order-2", "lamp", 2, 250.0))
"""What `main` and `build_pipeline` place: a cheap order and one over the card limit."""


def placed(order_id: str, sku: str, qty: int, amount: float) -> AgentEvent:
    """An ``order.placed`` event that starts the conversation ``order_id``."""
    return AgentEvent(
        event_type="order.placed",
        source_agent="shop",
        payload={"sku": sku, "qty": qty, "amount": amount},
        correlation_id=order_id,
    )


def place(pipeline: Pipeline, order_id: str, sku: str, qty: int, amount: float) -> AgentEvent:
    """Publish an ``order.placed`` event that starts the conversation ``order_id``."""
    event = placed(order_id, sku, qty, amount)
    pipeline.publish(event)
    return event


def build_pipeline() -> Pipeline:
    """The shop with `ORDERS` as its source ``orders``: what ``reagents run`` runs."""
    shop = build_shop()
    orders = [placed(*order) for order in ORDERS]
    shop.pipeline.add_source(MemorySource.from_events(orders, name="orders"))
    return shop.pipeline


def causation_chain(events: list[AgentEvent], last: AgentEvent) -> list[str]:
    """The event types from the conversation's first event to ``last``, following causes."""
    by_id = {event.event_id: event for event in events}
    chain = [last]
    while chain[-1].causation_id in by_id:
        chain.append(by_id[chain[-1].causation_id])
    return [f"{e.source_agent}: {e.event_type}" for e in reversed(chain)]


def main() -> None:
    """Place a cheap order and an expensive one; print how each unfolded."""
    shop = build_shop()
    for order_id, sku, qty, amount in ORDERS:
        place(shop.pipeline, order_id, sku, qty, amount)
    asyncio.run(shop.pipeline.run())
    console = Console(soft_wrap=True)
    for order in ("order-1", "order-2"):
        events = [e for e in shop.everything.events if e.correlation_id == order]
        console.print(f"{order}: " + " -> ".join(causation_chain(events, events[-1])))
    console.print(f"audited: {shop.audited}")
    console.print(f"stock left: {shop.warehouse.stock}")


if __name__ == "__main__":
    main()
