"""`asyncapi_document`: a pipeline described as an AsyncAPI 3.0.0 document (plain data).

Everything comes from the pipeline's declaration; nothing runs:

* servers: ``bus``, the in-process event bus, and one per Kafka broker that its Kafka
  sources, sinks and dead letters name.
* channels on the bus: ``bus`` (address ``{event_type}``: every event; sources and
  the inbox publish there), one per event type the pipeline knows — from agents' and
  sinks' subscriptions (``prefix*`` becomes the address ``prefix{suffix}``), from its
  `PayloadSchemas` and from what LLM agents emit — and ``AGENT.reactions`` per other
  agent (what it publishes: its handler picks the types at run time, so the address is
  unknown). On Kafka: one channel per topic (address = topic).
* messages: an event is the `AgentEvent` envelope (``components.schemas.AgentEvent``)
  with its ``event_type`` and ``payload`` narrowed to the type and to the payload
  schema the pipeline declares for it; an agent's ``input_schema`` gives the variant
  it receives, its ``output_schema`` (or LLM output model) the one it sends.
* operations: who sends (sources and the inbox, agents, Kafka sinks) and who receives
  (agents, sinks, Kafka sources); each operation id starts with the agent, sink or
  source id.

Event types are spelled as the router files them (case-folded) unless a schema
pattern spells them. Pydantic's JSON Schemas (draft 2020-12) are embedded as AsyncAPI
schema objects; the keywords they use mean the same in both.
"""

from __future__ import annotations

from typing import Any

from reagents.ai.agent import LLMAgent
from reagents.ai.outputs import output_choices
from reagents.ai.prompts import default_event_type
from reagents.dead_letter import DeadLetter
from reagents.kafka.topology import AgentTopics
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.agent import Agent
from reagents.sinks.base import Sink
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.kafka_dead_letters import KafkaDeadLetterSink
from reagents.sources.base import Source
from reagents.sources.kafka import KafkaSource
from reagents.views.asyncapi_parts import Key, Tables, all_of, bus_channel_shape, keys_of
from reagents.views.asyncapi_schemas import event_payload

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document"]

ASYNCAPI_VERSION = "3.0.0"
BUS = "bus"
_TEXT = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}


def asyncapi_document(pipeline: Pipeline, *, version: str = "1.0.0") -> dict[str, Any]:
    """``pipeline`` as an AsyncAPI 3.0.0 document (JSON-ready); ``version`` is the API's."""
    return _Builder(pipeline).build(version)


class _Builder:
    """Walks a pipeline's declaration once, filling the document's tables."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.t = Tables()
        self._bus: dict[Key, tuple[str, str]] = {}  # folded key -> (channel, its message)
        self._spelled: dict[Key, Key] = {}  # folded key -> as first spelled (schemas first)
        self._schemas = dict(pipeline.schemas.items()) if pipeline.schemas else {}

    def build(self, version: str) -> dict[str, Any]:
        p = self.pipeline
        self.t.servers[BUS] = {
            "host": "in-process",
            "protocol": "reagents",
            "description": f"The event bus of pipeline `{p.name}` in one process.",
        }
        self.bus_channel(Key("any", ""))
        for pattern in self._schemas:
            self.bus_channel(Key.of_pattern(pattern))
        for source in [*p.sources, p.inbox]:
            self.source(source, inbox=source is p.inbox)
        for agent in p.agents:
            self.agent(agent)
        for sink in p.sinks:
            self.sink(sink)
        letters = p.dead_letter_sink
        if isinstance(letters, KafkaDeadLetterSink):
            records = "DeadLetter JSON, keyed by the failed event's conversation"
            channel = self.t.kafka_channel(letters.topic, letters.config, "dead letters", records)
            fields = {"name": "dead_letter", "payload": self.t.book.model(DeadLetter)}
            message = self.t.message(channel, "dead_letter", fields)
            what = f"Failures (dead letters) of pipeline `{p.name}` go to this topic."
            self.t.operation(f"dead_letters.writes.{channel}", "send", channel, [message], what)
        return {
            "asyncapi": ASYNCAPI_VERSION,
            "info": {
                "title": f"reagents pipeline {p.name}",
                "version": version,
                "description": (
                    f"The events of the reagents pipeline `{p.name}`: {len(p.agents)} agent(s), "
                    f"{len(p.sinks)} sink(s), {len(p.sources)} source(s). Every message is an "
                    "AgentEvent (JSON); dead letters go to "
                    f"{letters.describe()}."
                ),
            },
            "defaultContentType": "application/json",
            "servers": self.t.servers,
            "channels": self.t.channels,
            "operations": self.t.operations,
            "components": {"schemas": self.t.book.components(), "messages": self.t.messages},
        }

    # -- the bus ------------------------------------------------------------------------

    def bus_channel(self, key: Key) -> tuple[str, str]:
        """The channel of ``key`` on the bus and its default message (made if new)."""
        known = self._bus.get(key.folded())
        if known is not None:
            return known
        wanted, shape = bus_channel_shape(key)
        channel = self.t.channel(wanted, {**shape, "servers": [{"$ref": f"#/servers/{BUS}"}]})
        payload = self.payload_schema(key)
        narrowed = event_payload(self.t.book, key.type_schema(), payload)
        message = self.t.message(
            channel, key.message_id(), {**key.message_texts(), "payload": narrowed}
        )
        self._bus[key.folded()] = (channel, message)
        self._spelled[key.folded()] = key
        return channel, message

    def payload_schema(self, key: Key) -> dict[str, Any] | None:
        """The payload schema the pipeline declares for ``key`` (None if none)."""
        if self.pipeline.schemas is None or key.kind == "any":
            return None
        key = self._spelled.get(key.folded(), key)  # schemas match types case-sensitively
        if key.kind == "prefix":
            pattern: str | None = key.text + "*"
        else:
            pattern = self.pipeline.schemas.pattern_for(key.text)
        validator = self._schemas.get(pattern) if pattern else None
        if validator is None:
            return None
        return self.t.book.validator(validator, f"{pattern}.payload")

    # -- who sends and receives ----------------------------------------------------------

    def source(self, source: Source, *, inbox: bool) -> None:
        bus, event = self.bus_channel(Key("any", ""))
        if inbox:
            text = (
                "`pipeline.publish()` puts events on the bus (and, under `reagents serve`, "
                "so do the events posted over HTTP)."
            )
        else:
            text = (
                f"Source `{source.name}` ({type(source).__name__}: {source.describe()}) "
                "publishes the events it reads."
            )
        if isinstance(source, KafkaSource):
            topics: list[str | None] = list(source.topics) or [None]
            for topic in topics:
                label = topic if topic is not None else f"pattern {source.pattern}"
                channel = self.t.kafka_channel(topic, source.config, label)
                message = self.t.reuse_message(channel, event)
                self.t.operation(
                    f"{source.name}.reads.{channel}",
                    "receive",
                    channel,
                    [message],
                    f"Source `{source.name}` reads events from Kafka ({label}).",
                )
        self.t.operation(f"{source.name}.publishes", "send", bus, [event], text)

    def agent(self, agent: Agent[Any]) -> None:
        described = f"Agent `{agent.id}` subscribes with `{agent.filter.describe()}`"
        if agent.flow_steps:
            described += f", through the flow {' → '.join(agent.flow_steps)}"
        described += "." + (f"\n\n{agent.description}" if agent.description else "")
        for folded in keys_of(agent.filter.accepted_types()):
            channel, message = self.bus_channel(folded)
            key = self._spelled[folded.folded()]
            if agent.input_validator is not None:
                accepted = self.t.book.validator(agent.input_validator, f"{agent.id}.input")
                payload = all_of(self.payload_schema(key), accepted)
                message = self.t.message(
                    channel,
                    f"{message}.to.{agent.id}",
                    {
                        **key.message_texts(f" as agent {agent.id} accepts it (its input_schema)"),
                        "payload": event_payload(self.t.book, key.type_schema(), payload),
                    },
                )
            self.t.operation(
                f"{agent.id}.receives.{channel}", "receive", channel, [message], described
            )
        output = (
            self.t.book.validator(agent.output_validator, f"{agent.id}.output")
            if agent.output_validator is not None
            else None
        )
        if isinstance(agent, LLMAgent):
            self.llm_outputs(agent, output)
            return
        channel = self.t.channel(
            f"{agent.id}.reactions",
            {
                "address": None,
                "title": f"reactions of {agent.id}",
                "description": (
                    f"The events agent `{agent.id}` publishes onto the bus; its handler picks "
                    "their types at run time, so the address is unknown."
                ),
                "servers": [{"$ref": f"#/servers/{BUS}"}],
            },
        )
        message = self.t.message(
            channel,
            f"{agent.id}.reaction",
            {
                "name": f"{agent.id}.reaction",
                "title": f"A reaction of {agent.id}",
                "payload": event_payload(self.t.book, None, output),
            },
        )
        self.t.operation(
            f"{agent.id}.publishes",
            "send",
            channel,
            [message],
            f"Agent `{agent.id}` may publish events in reaction to what it handles.",
        )

    def llm_outputs(self, agent: LLMAgent, output: dict[str, Any] | None) -> None:
        choices = output_choices(agent.output_type)
        if agent.event_type is not None:
            emitted = [(agent.event_type, choices)]
        else:  # the model picks one; the event type follows its pick
            emitted = [(default_event_type(choice), (choice,)) for choice in choices]
        for event_type, models in emitted:
            channel, _ = self.bus_channel(Key("type", event_type))
            answers = [self.t.book.model(model) for model in models] or [_TEXT]
            answer = answers[0] if len(answers) == 1 else {"anyOf": answers}
            payload = all_of(self.payload_schema(Key("type", event_type)), answer, output)
            message = self.t.message(
                channel,
                f"{event_type}.from.{agent.id}",
                {
                    **Key("type", event_type).message_texts(f" as LLM agent {agent.id} answers"),
                    "payload": event_payload(self.t.book, {"const": event_type}, payload),
                },
            )
            self.t.operation(
                f"{agent.id}.publishes.{channel}",
                "send",
                channel,
                [message],
                f"LLM agent `{agent.id}` ({agent.model_name}) publishes its answer.",
            )

    def sink(self, sink: Sink) -> None:
        kind = f"{type(sink).__name__}: {sink.describe()}"
        messages: list[str] = []
        for key in keys_of(sink.subscription.accepted_types()):
            channel, message = self.bus_channel(key)
            messages.append(message)
            self.t.operation(
                f"{sink.name}.receives.{channel}",
                "receive",
                channel,
                [message],
                f"Sink `{sink.name}` ({kind}) takes `{sink.subscription.describe()}`.",
            )
        if not isinstance(sink, KafkaSink):
            return
        chosen = sink.topic
        topics: list[str | None]
        if isinstance(chosen, str):
            topics = [chosen]
        elif isinstance(chosen, AgentTopics):
            topics = [*sorted(set(chosen.topics.values()))] or [None]
        else:
            topics = [None]
        for topic in topics:
            label = topic if topic is not None else f"routed by {sink.name}"
            channel = self.t.kafka_channel(topic, sink.config, label)
            sent = [self.t.reuse_message(channel, message) for message in messages]
            self.t.operation(
                f"{sink.name}.writes.{channel}",
                "send",
                channel,
                sent,
                f"Sink `{sink.name}` writes the events it takes to Kafka ({label}).",
            )
