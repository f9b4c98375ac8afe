"""Kafka plumbing shared by the Kafka source and sinks and the CLI: config, topics, broker.

aiokafka is optional (``pip install 'reagents[kafka]'``); importing this package does
not import it, the clients do when they start. This package imports neither
`reagents.sources` nor `reagents.sinks`: they import it.
"""

from reagents.kafka.broker import BrokerError, EmbeddedBroker
from reagents.kafka.config import (
    BOOTSTRAP_ENV,
    KafkaConfig,
    KafkaUnavailableError,
    require_aiokafka,
    resolve_bootstrap,
)
from reagents.kafka.producer import (
    KafkaSendError,
    MissingTopicError,
    ProducerSettings,
    ReliableProducer,
)
from reagents.kafka.security import SECURITY_ENV, KafkaSecurity
from reagents.kafka.topic_cache import TopicCache
from reagents.kafka.topology import (
    AgentTopics,
    TopicNaming,
    TopicSpec,
    ensure_topics,
    topics_for_agents,
)

__all__ = [
    "BOOTSTRAP_ENV",
    "SECURITY_ENV",
    "AgentTopics",
    "BrokerError",
    "EmbeddedBroker",
    "KafkaConfig",
    "KafkaSecurity",
    "KafkaSendError",
    "KafkaUnavailableError",
    "MissingTopicError",
    "ProducerSettings",
    "ReliableProducer",
    "TopicCache",
    "TopicNaming",
    "TopicSpec",
    "ensure_topics",
    "require_aiokafka",
    "resolve_bootstrap",
    "topics_for_agents",
]
