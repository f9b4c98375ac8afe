"""`KafkaSink`: matching events to Kafka topics, keyed so a conversation stays ordered.

The key is the event's conversation (``correlation_id``, else its own id) unless a
``key`` function says otherwise, so every event of one conversation lands on one
partition. Headers carry the event type, priority, correlation and event ids, and
``reagents-depth``: how many reactions deep the event is, so the reading pipeline's
cycle guard (``max_depth``) counts on from there, and the event's ``traceparent`` /
``tracestate`` (W3C trace context) when it has them. The
producer uses ``acks=all``; a failed send is retried, then raised (the pipeline
retries the write and dead-letters it), never dropped. Needs ``reagents[kafka]``.

An event for a topic the cluster does not have (addressed to an agent no process
runs: ``shop_ghost``) is not sent to any of its topics: the write raises
`MissingTopicError` naming the topic, the agents it stood for and how to create it,
and the pipeline dead-letters the event with that reason (replay it once the topic
exists). Topics are never left to the broker's auto-creation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reagents.delivery import causation_depth
from reagents.events import AgentEvent, encode_event
from reagents.kafka.config import KafkaConfig
from reagents.kafka.headers import depth_header, trace_headers
from reagents.kafka.producer import (
    Headers,
    MissingTopicError,
    ProducerSettings,
    ReliableProducer,
)
from reagents.kafka.topology import AgentTopics, create_hint
from reagents.operators.filters import Filter
from reagents.sinks.base import Sink

__all__ = ["KafkaSink", "conversation_key", "event_headers"]

TopicChoice = str | Callable[[AgentEvent], str | Sequence[str]]
KeyFunction = Callable[[AgentEvent], bytes | str | None]


def conversation_key(event: AgentEvent) -> bytes:
    """The default key: the conversation (correlation id, else the event id)."""
    return event.conversation_id.encode()


def event_headers(event: AgentEvent, depth: int = 0) -> Headers:
    """Routing headers, so consumers can look at an event without decoding it, its
    causation ``depth`` (when above 0) and its W3C trace context (when it has one)."""
    headers: Headers = [
        ("event_type", event.event_type.encode()),
        ("priority", str(event.priority).encode()),
        ("event_id", event.event_id.encode()),
        ("correlation_id", event.conversation_id.encode()),
    ]
    if event.source_agent:
        headers.append(("source_agent", event.source_agent.encode()))
    if depth > 0:
        headers.append(depth_header(depth))
    if event.traceparent is not None:
        headers.extend(trace_headers(event))
    return headers


class KafkaSink(Sink):
    """Writes each matching event to ``topic`` (a name, or a function of the event).

    With ``wait_for_delivery`` (the default) `write` returns once the cluster has the
    record, so a source record is acknowledged only after its outputs are stored.
    Without it, writes are pipelined (up to ``producer.max_pending``), failures are
    raised by a later write or `flush`; then list the sink in the source's
    ``flush_before_commit`` so offsets are committed only after delivery.
    """

    def __init__(
        self,
        topic: TopicChoice,
        subscription: Filter | str | None = None,
        name: str | None = None,
        *,
        bootstrap: str | None = None,
        config: KafkaConfig | None = None,
        producer: ProducerSettings | None = None,
        key: KeyFunction = conversation_key,
        wait_for_delivery: bool = True,
    ) -> None:
        label = topic if isinstance(topic, str) else getattr(topic, "__name__", "routed")
        super().__init__(subscription, name if name is not None else f"kafka:{label}")
        self._topic = topic
        self._key = key
        self._wait = wait_for_delivery
        self._producer = ReliableProducer(
            KafkaConfig.of(config, bootstrap), producer, what=f"sink {self.name}"
        )

    @property
    def topic(self) -> TopicChoice:
        """The topic name, or the function of the event that picks its topics."""
        return self._topic

    @property
    def config(self) -> KafkaConfig:
        """The client settings (the cluster it writes to)."""
        return self._producer.config

    @property
    def sent(self) -> int:
        """Records confirmed by the cluster."""
        return self._producer.sent

    def topics_of(self, event: AgentEvent) -> Sequence[str]:
        """The topics ``event`` is written to."""
        chosen = self._topic if isinstance(self._topic, str) else self._topic(event)
        return (chosen,) if isinstance(chosen, str) else chosen

    async def write(self, event: AgentEvent) -> None:
        """Send ``event`` to its topics (and wait for delivery unless pipelined).

        Raises `MissingTopicError`, sending nothing, when one of its topics is missing.
        """
        topics = self.topics_of(event)
        missing = await self._producer.missing_topics(topics)
        if missing:
            raise MissingTopicError(self._not_sent(event, missing), missing)
        value = encode_event(event)
        raw_key = self._key(event)
        key = raw_key.encode() if isinstance(raw_key, str) else raw_key
        headers = event_headers(event, causation_depth.get())
        send = self._producer.send_and_wait if self._wait else self._producer.send
        for topic in topics:
            await send(topic, value, key, headers)

    def _not_sent(self, event: AgentEvent, missing: Sequence[str]) -> str:
        """Why ``event`` was not sent: which topics are missing, for which agents."""
        named = []
        for topic in missing:
            if isinstance(self._topic, AgentTopics):
                agents = self._topic.agents_on(topic, event)
            else:
                agents = list(event.target_agents)
            whose = f" (of agent {', '.join(map(repr, agents))})" if agents else ""
            named.append(f"topic {topic!r}{whose}")
        verb = "does" if len(missing) == 1 else "do"
        return (
            f"event {event.event_type!r} was sent to none of its topics: "
            f"{' and '.join(named)} {verb} not exist (does any process run that agent? "
            f"a topic must exist before events are produced to it); {create_hint(missing)}, "
            "then replay this dead letter"
        )

    async def flush(self) -> None:
        """Wait until every pipelined record is delivered."""
        await self._producer.flush()

    async def close(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()
