"""An order desk served over HTTP: ``reagents serve examples/order_service.py``.

Orders come in as events (``POST /events``); two agents react, and what they emit is
visible on the status page, the event stream and ``/stats``::

    order.placed ─> pricing ─> order.priced ─> shipping ─> order.shipped
                     └─ an order without items fails: a dead letter, replayable

``pricing`` prices the items from a small catalogue (an unknown SKU is priced 0 and
flagged); ``shipping`` picks a carrier by total. An order with no items is rejected
(not retried: retrying would not add items), so it lands in the dead letters, where
``GET /dead-letters`` lists it and ``POST /dead-letters/{id}/replay`` sends it again.
The dead letters are kept in memory (the last 1,000): this example writes no file.
"""

from __future__ import annotations

from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.agent import Agent
from reagents.sinks.memory import MemoryDeadLetters

CATALOGUE = {"tea": 4.5, "cup": 12.0, "kettle": 39.0}


class EmptyOrderError(ValueError):
    """An order that lists no items."""


def price(event: AgentEvent) -> AgentEvent:
    """``order.priced`` with a line per item and the total."""
    items = event.payload.get("items") or []
    if not items:
        raise EmptyOrderError(f"order {event.payload.get('order_id', '?')} has no items")
    lines = [
        {"sku": item["sku"], "qty": item["qty"], "price": CATALOGUE.get(item["sku"], 0.0)}
        for item in items
    ]
    total = round(sum(line["price"] * line["qty"] for line in lines), 2)
    unknown = sorted({line["sku"] for line in lines if line["sku"] not in CATALOGUE})
    payload = {"order_id": event.payload.get("order_id"), "lines": lines, "total": total}
    return event.derive("order.priced", {**payload, "unknown_skus": unknown})


def ship(event: AgentEvent) -> AgentEvent:
    """``order.shipped`` with a carrier chosen by the order's total."""
    carrier = "courier" if event.payload["total"] >= 50 else "post"
    return event.derive(
        "order.shipped", {"order_id": event.payload["order_id"], "carrier": carrier}
    )


def build_pipeline() -> Pipeline:
    """The order desk: pricing and shipping, dead letters kept in memory."""
    pipeline = Pipeline("orders", dead_letters=MemoryDeadLetters(limit=1000))
    pipeline.add_agent(
        Agent(price, id="pricing", subscription="type = order.placed", no_retry=EmptyOrderError)
    )
    pipeline.add_agent(Agent(ship, id="shipping", subscription="type = order.priced"))
    return pipeline
