"""`asyncapi_document`: every example pipeline as valid AsyncAPI 3.0.0, checked against the
official schema; channels, messages and operations that say what the pipeline does."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from reagents import AgentEvent, ModelBudget, Pipeline
from reagents.kafka.topology import AgentTopics, TopicNaming
from reagents.operators.filters import where_type
from reagents.schemas import PayloadSchemas
from reagents.sinks.agent import Agent
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sources.kafka import KafkaSource
from reagents.views.asyncapi import asyncapi_document
from tests.examples import load_example
from tests.views.asyncapi_check import check_document, message_validator, pointer

BROKER = "127.0.0.1:9"  # never contacted: a document is made from the declaration only


def channel_of(document: dict[str, Any], channel_id: str) -> dict[str, Any]:
    channel: dict[str, Any] = document["channels"][channel_id]
    return channel


def payload_schema(document: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The ``payload`` property schema a message narrows the envelope to (resolved)."""
    narrowed = document["components"]["messages"][message_id]["payload"]["allOf"][1]
    schema = narrowed["properties"]["payload"]
    return pointer(document, schema["$ref"]) if "$ref" in schema else schema  # type: ignore[no-any-return]


def test_trading(tmp_path: Path) -> None:
    trading = load_example("trading")
    document = asyncapi_document(trading.build_pipeline(out_dir=tmp_path))
    check_document(document)
    channels = document["channels"]
    assert channels["bus"]["address"] == "{event_type}"
    assert channels["market_data"]["address"] == "market_data"
    prefix = channels["trade_signal.any"]
    assert prefix["address"] == "trade_signal{suffix}"
    assert set(prefix["parameters"]) == {"suffix"}
    operations = document["operations"]
    assert operations["trader.receives.vwap"]["action"] == "receive"
    assert "type = vwap" in operations["trader.receives.vwap"]["summary"]
    assert "tumbling" in operations["vwap.receives.market_data"]["summary"]  # its flow
    assert "Trades the volume spikes" in operations["trader.receives.vwap"]["description"]
    assert operations["trader.publishes"]["channel"] == {"$ref": "#/channels/trader.reactions"}
    assert channels["trader.reactions"]["address"] is None
    assert operations["market.publishes"]["channel"] == {"$ref": "#/channels/bus"}
    assert operations["signals.receives.trade_signal.any"]["action"] == "receive"
    envelope = document["components"]["schemas"]["AgentEvent"]
    assert envelope["properties"]["priority"]["maximum"] == 10


def test_choreography_events_fit_their_messages() -> None:
    choreography = load_example("choreography")
    shop = choreography.build_shop()
    document = asyncapi_document(shop.pipeline)
    check_document(document)
    assert set(document["channels"]) >= {"order.placed", "stock.reserved", "payment.captured"}
    assert document["operations"]["everything.receives.bus"]["action"] == "receive"
    placed = message_validator(document, "order.placed")
    event = AgentEvent(event_type="order.placed", payload={"sku": "lamp", "qty": 1})
    assert placed.is_valid(event.model_dump(mode="json"))
    other = event.model_copy(update={"event_type": "order.cancelled"})
    assert not placed.is_valid(other.model_dump(mode="json"))  # the type is narrowed


async def test_ecommerce() -> None:
    ecommerce = load_example("ecommerce")
    shop = ecommerce.build_shop()
    try:
        document = asyncapi_document(shop.pipeline)
    finally:
        await shop.coordinator.close()
    check_document(document)
    inventory = channel_of(document, "inventory.any")
    assert inventory["address"] == "inventory.{suffix}"
    assert "inventory.receives.inventory.any" in document["operations"]
    assert "saga-status.receives.saga.any" in document["operations"]


def test_support_triage_says_what_the_model_answers() -> None:
    support = load_example("support_triage")
    pipeline, _, _ = support.build(support.offline_model(), ModelBudget(requests_per_minute=60))
    document = asyncapi_document(pipeline)
    check_document(document)
    published = document["operations"]["triage.publishes.triage"]
    assert published["action"] == "send"
    message = published["messages"][0]["$ref"].rsplit("/", 1)[1]
    assert message == "triage.from.triage"
    triage = payload_schema(document, message)
    assert set(triage["properties"]) == {"ticket", "category", "urgency", "confidence"}
    assert triage["properties"]["category"]["enum"] == ["billing", "technical", "account"]
    for team in ("billing", "technical", "account"):
        assert f"{team}.receives.triage" in document["operations"]
    assert "human_review.receives.triage" in document["operations"]
    answer = AgentEvent(
        event_type="triage",
        payload={"ticket": "T-1", "category": "billing", "urgency": "low", "confidence": 0.9},
    )
    validator = message_validator(document, message)
    assert validator.is_valid(answer.model_dump(mode="json"))
    wrong = answer.model_copy(update={"payload": {**answer.payload, "category": "sales"}})
    assert not validator.is_valid(wrong.model_dump(mode="json"))


def test_llm_triage() -> None:
    llm_triage = load_example("llm_triage")
    pipeline, _ = llm_triage.build(llm_triage.offline_model())
    document = asyncapi_document(pipeline)
    check_document(document)
    triage = payload_schema(document, "triage.from.triage")
    assert set(triage["properties"]) == {"priority", "team", "summary"}
    assert "pager.receives.triage" in document["operations"]


class Order(BaseModel):
    sku: str
    qty: int


SHIPPED = {
    "type": "object",
    "properties": {"parcel": {"$ref": "#/$defs/parcel"}},
    "required": ["parcel"],
    "$defs": {"parcel": {"type": "object", "required": ["tracking"]}},
}


def test_declared_schemas_and_agent_schemas_become_payloads() -> None:
    schemas = PayloadSchemas({"order.placed": Order, "shipped": SHIPPED})
    pipeline = Pipeline("shop", schemas=schemas)

    class Receipt(BaseModel):
        order: str

    def ship(event: AgentEvent) -> AgentEvent:
        return event.derive("shipped", {"parcel": {"tracking": "T-1"}})

    pipeline.add_agent(Agent(ship, subscription="type = order.placed", output_schema=Receipt))
    pipeline.add_agent(
        Agent(ship, id="picky", subscription="type = shipped", input_schema={"required": ["x"]})
    )
    document = asyncapi_document(pipeline)
    check_document(document)
    order = message_validator(document, "order.placed")
    assert order.is_valid(
        AgentEvent(event_type="order.placed", payload={"sku": "a", "qty": 1}).model_dump(
            mode="json"
        )
    )
    assert not order.is_valid(
        AgentEvent(event_type="order.placed", payload={"sku": "a"}).model_dump(mode="json")
    )
    shipped = message_validator(document, "shipped")  # a JSON Schema with its own $defs
    good = AgentEvent(event_type="shipped", payload={"parcel": {"tracking": "T"}})
    assert shipped.is_valid(good.model_dump(mode="json"))
    bad = AgentEvent(event_type="shipped", payload={"parcel": {}})
    assert not shipped.is_valid(bad.model_dump(mode="json"))
    picky = message_validator(document, "shipped.to.picky")
    assert not picky.is_valid(good.model_dump(mode="json"))  # lacks x
    receive = document["operations"]["picky.receives.shipped"]
    assert receive["messages"] == [{"$ref": "#/channels/shipped/messages/shipped.to.picky"}]
    reaction = document["components"]["messages"]["ship.reaction"]
    assert (
        pointer(document, reaction["payload"]["allOf"][1]["properties"]["payload"]["$ref"])["title"]
        == "Receipt"
    )


def test_a_schema_spells_the_type_the_router_folds() -> None:
    pipeline = Pipeline("shop", schemas=PayloadSchemas({"Order.Placed": Order}))
    strict = Agent(lambda e: None, id="strict", subscription="type = Order.Placed")
    pipeline.add_agent(strict)
    picky = Agent(
        lambda e: None,
        id="picky",
        subscription="type = order.placed",
        input_schema={"required": ["note"]},
    )
    pipeline.add_agent(picky)
    document = asyncapi_document(pipeline)
    check_document(document)
    assert document["channels"]["Order.Placed"]["address"] == "Order.Placed"
    assert "order.placed" not in document["channels"]
    event = AgentEvent(event_type="Order.Placed", payload={"sku": "a", "qty": 1, "note": "n"})
    assert message_validator(document, "Order.Placed").is_valid(event.model_dump(mode="json"))
    variant = message_validator(document, "Order.Placed.to.picky")
    assert variant.is_valid(event.model_dump(mode="json"))
    no_qty = event.model_copy(update={"payload": {"sku": "a", "note": "n"}})
    assert not variant.is_valid(no_qty.model_dump(mode="json"))  # the pipeline's schema too


def test_kafka_topics_are_channels_on_kafka_servers() -> None:
    pipeline = Pipeline("relay", dead_letters=KafkaDeadLetterSink("relay.dlq", bootstrap=BROKER))
    pipeline.add_source(KafkaSource("orders", group_id="relay", bootstrap=BROKER))
    pipeline.add_agent(Agent(lambda e: None, id="packer", subscription="type = order"))
    pipeline.add_sink(KafkaSink("shipped", where_type("shipped"), bootstrap=BROKER))
    routed = AgentTopics(TopicNaming(), {"packer": where_type("order")})
    pipeline.add_sink(KafkaSink(routed, where_type("order"), name="to-agents", bootstrap=BROKER))
    document = asyncapi_document(pipeline)
    check_document(document)
    assert document["servers"]["kafka"] == {
        "host": BROKER,
        "protocol": "kafka",
        "description": f"A Kafka broker (bootstrap servers: {BROKER}).",
    }
    channels = document["channels"]
    assert channels["kafka.orders"]["address"] == "orders"
    assert channels["kafka.orders"]["servers"] == [{"$ref": "#/servers/kafka"}]
    assert channels["kafka.shipped"]["address"] == "shipped"
    assert channels["kafka.relay.dlq"]["address"] == "relay.dlq"
    operations = document["operations"]
    assert operations["kafka_orders.reads.kafka.orders"]["action"] == "receive"
    assert operations["kafka_shipped.writes.kafka.shipped"]["action"] == "send"
    agent_topic = routed.topic_of("packer")
    assert any(c["address"] == agent_topic for c in channels.values())
    letters = document["components"]["messages"]["dead_letter"]["payload"]
    assert pointer(document, letters["$ref"])["title"] == "DeadLetter"


TYPES = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="*'\"\\"),
    min_size=1,
    max_size=20,
).filter(lambda text: text.strip() == text and text.strip() != "")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(types=st.lists(TYPES, min_size=1, max_size=4, unique=True), prefix=st.booleans())
def test_any_event_types_make_a_valid_document(types: list[str], prefix: bool) -> None:
    """Hostile type names (slashes, tildes, braces, unicode) still give valid ids and refs."""
    pipeline = Pipeline("hostile", schemas=PayloadSchemas({types[0]: {"type": "object"}}))
    for number, event_type in enumerate(types):
        pattern = event_type + ("*" if prefix and number == 0 else "")
        pipeline.add_agent(Agent(lambda e: None, id=f"a{number}", subscription=where_type(pattern)))
    document = asyncapi_document(pipeline)
    check_document(document)
    addresses = {c["address"] for c in document["channels"].values()}
    for event_type in types[1:]:
        assert event_type.casefold() in addresses
    safe = set(string.ascii_letters + string.digits + "_.-")
    for table in ("schemas", "messages"):
        assert all(set(name) <= safe for name in document["components"][table])
