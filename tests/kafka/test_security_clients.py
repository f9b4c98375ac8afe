"""Every aiokafka client reagents builds gets the managed-Kafka settings: the real
consumer, producer and admin client objects are inspected (only their network
``start`` is replaced, to capture them); and compressed records round-trip through the
embedded broker."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable

import aiokafka
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.client import AIOKafkaClient

from reagents import AgentEvent
from reagents.kafka import KafkaConfig, ProducerSettings, ReliableProducer, ensure_topics
from reagents.sources.kafka import KafkaSource
from tests.kafka.conftest import create_topic, produce
from tests.kafka.test_security_config import Tokens

MANAGED = KafkaConfig(
    bootstrap_servers="pkc-123.example.cloud:9092",
    security_protocol="SASL_SSL",
    sasl_mechanism="PLAIN",
    sasl_username="API_KEY",
    sasl_password="API_SECRET",
    compression="gzip",
    options={
        "metadata_max_age_ms": 12_345,  # every client takes it
        "isolation_level": "read_committed",  # consumers only
        "max_request_size": 2_000_000,  # producers only
    },
)
Client = aiokafka.AIOKafkaConsumer | aiokafka.AIOKafkaProducer | AIOKafkaAdminClient


class Captured(Exception):
    """Raised by the replaced ``start``: the client was built, nothing was connected."""


def capture(monkeypatch: pytest.MonkeyPatch, cls: type[Client]) -> list[Client]:
    seen: list[Client] = []

    async def start(self: Client) -> None:
        seen.append(self)
        raise Captured

    monkeypatch.setattr(cls, "start", start)
    return seen


def low_level(client: Client) -> AIOKafkaClient:
    inner = client.client if isinstance(client, aiokafka.AIOKafkaProducer) else client._client
    assert isinstance(inner, AIOKafkaClient)
    return inner


def assert_managed(inner: AIOKafkaClient) -> None:
    assert inner._bootstrap_servers == "pkc-123.example.cloud:9092"
    assert inner._security_protocol == "SASL_SSL"
    assert isinstance(inner._ssl_context, ssl.SSLContext)
    assert inner._ssl_context.check_hostname
    assert inner._sasl_mechanism == "PLAIN"
    assert (inner._sasl_plain_username, inner._sasl_plain_password) == ("API_KEY", "API_SECRET")
    assert inner._metadata_max_age_ms == 12_345


async def built_by(
    monkeypatch: pytest.MonkeyPatch, cls: type[Client], build: Callable[[], Awaitable[object]]
) -> Client:
    seen = capture(monkeypatch, cls)
    with pytest.raises(Captured):
        await build()
    (client,) = seen
    return client


async def test_the_producer_gets_security_compression_and_producer_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    producer = await built_by(
        monkeypatch, aiokafka.AIOKafkaProducer, ReliableProducer(MANAGED).start
    )
    assert isinstance(producer, aiokafka.AIOKafkaProducer)
    assert_managed(low_level(producer))
    assert producer._compression_type == "gzip"
    assert producer._max_request_size == 2_000_000
    await producer.stop()
    none = ReliableProducer(MANAGED, ProducerSettings(compression="none"))
    plain = await built_by(monkeypatch, aiokafka.AIOKafkaProducer, none.start)
    assert isinstance(plain, aiokafka.AIOKafkaProducer)
    assert plain._compression_type is None  # the producer's own setting wins
    await plain.stop()


async def test_the_source_consumer_gets_security_and_consumer_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = KafkaSource("orders", group_id="g", config=MANAGED)
    consumer = await built_by(
        monkeypatch, aiokafka.AIOKafkaConsumer, lambda: anext(source.batches())
    )
    assert isinstance(consumer, aiokafka.AIOKafkaConsumer)
    assert_managed(low_level(consumer))
    assert consumer._isolation_level == "read_committed"
    await consumer.stop()


async def test_the_admin_client_gets_security_options(monkeypatch: pytest.MonkeyPatch) -> None:
    admin = await built_by(monkeypatch, AIOKafkaAdminClient, lambda: ensure_topics(MANAGED, ["t"]))
    assert_managed(low_level(admin))


async def test_an_oauth_token_provider_reaches_the_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tokens = Tokens()
    oauth = MANAGED.model_copy(
        update={"sasl_mechanism": "OAUTHBEARER", "sasl_username": None, "sasl_password": None}
    )
    oauth = KafkaConfig(**{**oauth.model_dump(), "sasl_oauth_token_provider": tokens})
    producer = await built_by(monkeypatch, aiokafka.AIOKafkaProducer, ReliableProducer(oauth).start)
    assert isinstance(producer, aiokafka.AIOKafkaProducer)
    assert low_level(producer)._sasl_oauth_token_provider is tokens
    await producer.stop()


@pytest.mark.kafka
@pytest.mark.integration
@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
async def test_compressed_records_round_trip_through_the_broker(
    codec: str, kafka_config: KafkaConfig, topic_name: str
) -> None:
    if codec != "gzip" and not aiokafka.codec.has_snappy():
        pytest.skip(f"{codec} needs cramjam, which is not installed")
    config = kafka_config.model_copy(update={"compression": codec})
    topic = await create_topic(config, topic_name, partitions=1)
    events = [AgentEvent(event_type="tick", payload={"n": n, "pad": "x" * 500}) for n in range(50)]
    await produce(config, topic, events)
    source = KafkaSource(topic, group_id=None, config=config, start="earliest", stop_when_idle=1)
    seen: list[AgentEvent] = []
    async for batch in source.batches():
        seen.extend(record.item for record in batch if isinstance(record.item, AgentEvent))
    await source.close()
    assert [e.event_id for e in seen] == [e.event_id for e in events]
