"""Topic naming and creation, and how agents of one pipeline spread over processes.

The article's layout is one topic per agent (``<prefix>_<agent_id>``) plus one
dead-letter topic (``<prefix>_dlq``). `ensure_topics` creates missing topics with N
partitions when allowed, and `topics_for_agents` routes an event to the topics of the
agents it is meant for. (`Pipeline.only` runs some of a pipeline's agents in one
process, so each agent, with its own consumer group, scales on its own.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.kafka.config import KafkaConfig, require_aiokafka
from reagents.operators.filters import Filter

__all__ = [
    "AgentTopics",
    "TopicNaming",
    "TopicSpec",
    "create_hint",
    "ensure_topics",
    "topics_for_agents",
]

_log = logging.getLogger(__name__)
_TOPIC = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


class TopicNaming(BaseModel):
    """Names topics ``<prefix><sep><agent_id>`` per agent and ``<prefix><sep>dlq``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix: str = "reagents"
    separator: str = "_"
    dead_letter_suffix: str = "dlq"

    @field_validator("prefix", "dead_letter_suffix")
    @classmethod
    def _legal(cls, value: str) -> str:
        if not _TOPIC.match(value):
            raise ValueError(f"{value!r} may only hold letters, digits, '.', '_' and '-'")
        return value

    def agent(self, agent_id: str) -> str:
        """The topic agent ``agent_id`` consumes (``:`` in ids becomes ``.``)."""
        return self._legal_name(f"{self.prefix}{self.separator}{agent_id.replace(':', '.')}")

    @property
    def dead_letters(self) -> str:
        """The dead-letter topic."""
        return f"{self.prefix}{self.separator}{self.dead_letter_suffix}"

    def group(self, agent_id: str) -> str:
        """The consumer group of agent ``agent_id`` (one group per agent)."""
        return self.agent(agent_id)

    @staticmethod
    def _legal_name(name: str) -> str:
        if not _TOPIC.match(name):
            raise ConfigurationError(f"{name!r} is not a legal Kafka topic name")
        return name


class TopicSpec(BaseModel):
    """A topic to create when missing: ``partitions`` and ``replication`` factor."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=_TOPIC.pattern)
    partitions: int = Field(default=4, ge=1)
    replication: int = Field(default=1, ge=1)


async def ensure_topics(
    config: KafkaConfig, topics: Iterable[TopicSpec | str], *, create: bool = True
) -> list[str]:
    """Make sure ``topics`` exist; returns the names it created.

    Missing topics are created with their partitions when ``create`` is true; otherwise
    a missing topic raises `ConfigurationError` (so a typo does not silently start an
    idle consumer). Topics that exist are left as they are.
    """
    admin_mod = require_aiokafka("admin")
    specs = [TopicSpec(name=t) if isinstance(t, str) else t for t in topics]
    admin = admin_mod.AIOKafkaAdminClient(**config.admin_options())
    await config.start_client(admin.start, admin.close, "admin")
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if missing and not create:
            names = ", ".join(spec.name for spec in missing)
            raise ConfigurationError(f"Kafka topics missing (and creation not allowed): {names}")
        if missing:
            new = [admin_mod.NewTopic(s.name, s.partitions, s.replication) for s in missing]
            response = await admin.create_topics(new)
            _check_created(response)
            _log.info("created Kafka topics %s", [s.name for s in missing])
        return [spec.name for spec in missing]
    finally:
        await admin.close()


def create_hint(topics: Sequence[str]) -> str:
    """How to create the missing ``topics`` (the end of an error message)."""
    names = ", ".join(map(repr, topics))
    return (
        f"create {'it' if len(topics) == 1 else 'them'} first: "
        f"reagents.kafka.ensure_topics(config, [{names}]) "
        f"(or kafka-topics.sh --create --topic {topics[0]})"
    )


def _check_created(response: object) -> None:
    topic_already_exists = 36
    for item in getattr(response, "topic_errors", ()):
        name, code, message = item[0], item[1], item[2] if len(item) > 2 else None
        if code not in (0, topic_already_exists):
            raise ConfigurationError(f"creating topic {name!r} failed: error {code} {message}")


def topics_for_agents(naming: TopicNaming, subscriptions: Mapping[str, Filter]) -> AgentTopics:
    """Where an event goes: its ``target_agents``' topics, else every subscriber's topic.

    ``subscriptions`` maps agent ids to their filters (``{a.id: a.filter for a in agents}``).
    """
    return AgentTopics(naming, subscriptions)


class AgentTopics:
    """Routes an event to the topics of the agents it is meant for (`topics_for_agents`).

    A `KafkaSink` given one names, when a topic is missing, the agents it stood for.
    """

    def __init__(self, naming: TopicNaming, subscriptions: Mapping[str, Filter]) -> None:
        self.naming = naming
        self._table = [(subscription, naming.agent(a)) for a, subscription in subscriptions.items()]
        self._by_id = {agent_id: naming.agent(agent_id) for agent_id in subscriptions}

    def __call__(self, event: AgentEvent) -> list[str]:
        """The topics ``event`` is written to."""
        if event.target_agents:
            return [self.topic_of(a) for a in event.target_agents]
        return [topic for subscription, topic in self._table if subscription.matches(event)]

    @property
    def topics(self) -> dict[str, str]:
        """Agent id → the topic it consumes, for every agent of the table."""
        return dict(self._by_id)

    def topic_of(self, agent_id: str) -> str:
        """The topic agent ``agent_id`` consumes."""
        return self._by_id.get(agent_id) or self.naming.agent(agent_id)

    def agents_on(self, topic: str, event: AgentEvent) -> list[str]:
        """The agents ``event`` went to ``topic`` for."""
        if event.target_agents:
            return [a for a in event.target_agents if self.topic_of(a) == topic]
        return [a for a, t in self._by_id.items() if t == topic]
