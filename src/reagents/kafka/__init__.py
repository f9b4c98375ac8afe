"""Kafka support shared by `KafkaSource`, `KafkaSink` and the CLI: config, topics, broker.

aiokafka is optional (``pip install 'reagents[kafka]'``); importing this package does
not import it, the clients do when they start.
"""

from reagents.kafka.broker import BrokerError, EmbeddedBroker
from reagents.kafka.config import (
    BOOTSTRAP_ENV,
    KafkaConfig,
    KafkaUnavailableError,
    require_aiokafka,
    resolve_bootstrap,
)
from reagents.kafka.dead_letters import KafkaDeadLetterSink, dead_letter_headers
from reagents.kafka.producer import KafkaSendError, ProducerSettings, ReliableProducer
from reagents.kafka.topology import (
    TopicNaming,
    TopicSpec,
    ensure_topics,
    topics_for_agents,
)

__all__ = [
    "BOOTSTRAP_ENV",
    "BrokerError",
    "EmbeddedBroker",
    "KafkaConfig",
    "KafkaDeadLetterSink",
    "KafkaSendError",
    "KafkaUnavailableError",
    "ProducerSettings",
    "ReliableProducer",
    "TopicNaming",
    "TopicSpec",
    "dead_letter_headers",
    "ensure_topics",
    "require_aiokafka",
    "resolve_bootstrap",
    "topics_for_agents",
]
