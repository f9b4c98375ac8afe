"""The payload schema registry: pydantic models and JSON Schema, exact and prefix types."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from reagents.errors import ConfigurationError, PayloadValidationError
from reagents.events import AgentEvent
from reagents.schemas import PayloadSchemas


class Quote(BaseModel):
    symbol: str
    price: float
    volume: int


ORDER_SCHEMA = {
    "type": "object",
    "required": ["order_id", "amount"],
    "properties": {"order_id": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
}


@pytest.fixture
def schemas() -> PayloadSchemas:
    return PayloadSchemas({"market_data": Quote, "order.*": ORDER_SCHEMA})


def test_valid_payloads_pass(schemas: PayloadSchemas) -> None:
    quote = AgentEvent(event_type="market_data", payload={"symbol": "A", "price": 1, "volume": 2})
    order = AgentEvent(event_type="order.created", payload={"order_id": "o1", "amount": 3.5})
    assert schemas.validate(quote) is quote
    assert schemas.validate(order) is order


def test_types_without_schema_pass(schemas: PayloadSchemas) -> None:
    event = AgentEvent(event_type="alert", payload={"anything": True})
    assert schemas.validate(event) is event
    assert "alert" not in schemas


def test_pydantic_errors_name_the_field(schemas: PayloadSchemas) -> None:
    event = AgentEvent(event_type="market_data", payload={"symbol": "A", "price": "cheap"})
    with pytest.raises(PayloadValidationError) as caught:
        schemas.validate(event)
    message = str(caught.value)
    assert "payload.price" in message
    assert "payload.volume: Field required" in message
    assert "'market_data'" in message


def test_json_schema_errors_name_every_problem(schemas: PayloadSchemas) -> None:
    event = AgentEvent(event_type="order.paid", payload={"amount": -1})
    with pytest.raises(PayloadValidationError) as caught:
        schemas.validate(event)
    assert "'order_id' is a required property" in caught.value.reason
    assert "payload.amount: -1 is less than the minimum of 0" in caught.value.reason


def test_exact_beats_prefix_and_longer_prefix_beats_shorter() -> None:
    schemas = PayloadSchemas({"order.*": ORDER_SCHEMA, "order.refund*": {"type": "object"}})
    schemas.register("order.special", {"type": "object"})
    assert schemas.pattern_for("order.special") == "order.special"
    assert schemas.pattern_for("order.refunded") == "order.refund*"
    assert schemas.pattern_for("order.created") == "order.*"
    assert schemas.pattern_for("Order.created") is None
    assert len(schemas) == 3


def test_a_broken_json_schema_fails_at_registration() -> None:
    with pytest.raises(ConfigurationError, match="JSON Schema for 'x' is invalid"):
        PayloadSchemas({"x": {"type": "not-a-type"}})


def test_a_schema_of_the_wrong_kind_fails_at_registration() -> None:
    with pytest.raises(ConfigurationError, match="pydantic model class or a JSON Schema"):
        PayloadSchemas({"x": 42})  # type: ignore[dict-item]
