"""The pieces `reagents.views.asyncapi` assembles: bus channel keys and the document's
tables (servers, channels, messages, operations) with unique, AsyncAPI-safe ids."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from reagents.kafka.config import KafkaConfig
from reagents.operators import TypeSet
from reagents.views.asyncapi_schemas import SchemaBook, unique_id

__all__ = ["Key", "Tables", "all_of", "bus_channel_shape", "keys_of"]

_REGEX_SYNTAX = set("\\^$.|?*+()[]{}/")


@dataclass(frozen=True, slots=True)
class Key:
    """What a bus channel carries: one event ``type``, a type ``prefix``, or ``any`` type."""

    kind: Literal["type", "prefix", "any"]
    text: str

    @classmethod
    def of_pattern(cls, pattern: str) -> Key:
        """The key of a schema pattern (``type``, ``prefix*`` or ``*``)."""
        if pattern == "*":
            return cls("any", "")
        if pattern.endswith("*"):
            return cls("prefix", pattern[:-1])
        return cls("type", pattern)

    def folded(self) -> Key:
        """The key as the router files it (event types match case-insensitively)."""
        return Key(self.kind, self.text.casefold())

    def message_id(self) -> str:
        """The id of the key's message."""
        if self.kind == "any":
            return "event"
        return self.text if self.kind == "type" else f"{self.text.rstrip('.')}.any"

    def type_schema(self) -> dict[str, Any] | None:
        """The schema of ``event_type`` for this key (None: any string)."""
        if self.kind == "type":
            return {"const": self.text}
        if self.kind == "prefix":
            escaped = "".join(f"\\{c}" if c in _REGEX_SYNTAX else c for c in self.text)
            return {"type": "string", "pattern": f"^{escaped}"}
        return None

    def message_texts(self, suffix: str = "") -> dict[str, str]:
        """The name, title and summary of the key's message."""
        if self.kind == "any":
            name, what = "event", "An event of any type"
        elif self.kind == "prefix":
            name, what = f"{self.text}*", f"An event whose type starts with {self.text!r}"
        else:
            name, what = self.text, f"A {self.text!r} event"
        return {"name": name, "title": f"{name}{suffix}", "summary": f"{what}{suffix}."}


def keys_of(types: TypeSet) -> list[Key]:
    """The bus keys a subscription accepts (``any`` alone when it may take any type)."""
    if types.any:
        return [Key("any", "")]
    exact = [Key("type", name) for name in sorted(types.exact)]
    return exact + [Key("prefix", prefix) for prefix in sorted(types.prefixes)]


def bus_channel_shape(key: Key) -> tuple[str, dict[str, Any]]:
    """The wanted id and the fields of the bus channel of ``key``."""
    if key.kind == "any":
        return "bus", {
            "address": "{event_type}",
            "title": "every event on the bus",
            "description": "Every event the pipeline routes, whatever its type.",
            "parameters": {"event_type": {"description": "The event's type."}},
        }
    if key.kind == "prefix":
        return key.message_id(), {
            "address": key.text + "{suffix}",
            "title": f"{key.text}* events",
            "description": f"Events whose type starts with {key.text!r}.",
            "parameters": {"suffix": {"description": f"The event type after {key.text!r}."}},
        }
    return key.text, {"address": key.text, "title": f"{key.text} events"}


def all_of(*schemas: dict[str, Any] | None) -> dict[str, Any] | None:
    """The schemas that are given, all required (None when none is)."""
    given = [schema for schema in schemas if schema is not None]
    if not given:
        return None
    return given[0] if len(given) == 1 else {"allOf": given}


@dataclass
class Tables:
    """The document's tables, filled as the pipeline is walked."""

    book: SchemaBook = field(default_factory=SchemaBook)
    servers: dict[str, Any] = field(default_factory=dict)
    channels: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, Any] = field(default_factory=dict)
    operations: dict[str, Any] = field(default_factory=dict)
    _clusters: dict[str, list[str]] = field(default_factory=dict)
    _topics: dict[str, str] = field(default_factory=dict)  # topic (or "\0" label) -> id

    def channel(self, wanted: str, fields: dict[str, Any]) -> str:
        """Add a channel (id ``wanted``, made unique); returns its id."""
        channel_id = unique_id(wanted, self.channels)
        self.channels[channel_id] = {**fields, "messages": {}}
        return channel_id

    def message(self, channel: str, wanted: str, fields: dict[str, Any]) -> str:
        """Add a message to the components and to ``channel``; returns its id."""
        message_id = unique_id(wanted, self.messages)
        self.messages[message_id] = {"contentType": "application/json", **fields}
        return self.reuse_message(channel, message_id)

    def reuse_message(self, channel: str, message_id: str) -> str:
        """Let ``channel`` carry the component message ``message_id`` too."""
        reference = {"$ref": f"#/components/messages/{message_id}"}
        self.channels[channel]["messages"][message_id] = reference
        return message_id

    def operation(
        self, wanted: str, action: str, channel: str, messages: list[str], description: str
    ) -> str:
        """Add an operation on ``channel`` (its ``messages`` must be the channel's)."""
        operation_id = unique_id(wanted, self.operations)
        self.operations[operation_id] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{m}"} for m in messages],
            "summary": description.split("\n", 1)[0],
        }
        if "\n" in description:
            self.operations[operation_id]["description"] = description
        return operation_id

    def kafka_servers(self, config: KafkaConfig) -> list[str]:
        """The server ids of the brokers ``config`` bootstraps from (added if new)."""
        bootstrap = config.bootstrap_servers
        known = self._clusters.get(bootstrap)
        if known is not None:
            return known
        brokers = [b.strip() for b in bootstrap.split(",") if b.strip()]
        ids = []
        for broker in brokers:
            server_id = unique_id("kafka", self.servers)
            self.servers[server_id] = {
                "host": broker,
                "protocol": "kafka",
                "description": f"A Kafka broker (bootstrap servers: {bootstrap}).",
            }
            ids.append(server_id)
        self._clusters[bootstrap] = ids
        return ids

    def kafka_channel(
        self,
        topic: str | None,
        config: KafkaConfig,
        label: str,
        records: str = "AgentEvent JSON, keyed by the conversation id",
    ) -> str:
        """The channel of a Kafka topic (``None``: picked at run time, named by ``label``)."""
        key = topic if topic is not None else "\0" + label
        known = self._topics.get(key)
        if known is not None:
            return known
        servers = self.kafka_servers(config)
        unknown = topic is None
        self._topics[key] = channel = self.channel(
            f"kafka.{label if unknown else topic}",
            {
                "address": topic,
                "title": f"Kafka topics ({label})" if unknown else f"Kafka topic {topic}",
                "description": f"Records are {records}.",
                "servers": [{"$ref": f"#/servers/{server}"} for server in servers],
            },
        )
        return channel
