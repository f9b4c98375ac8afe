"""Where ``POST /events`` hands accepted events: the pipeline's inbox, or a Kafka topic.

``202 Accepted`` is answered only once the hand-off is done:

- `InboxHandoff` (the default): the events are queued in ``pipeline.inbox`` (the
  pipeline's own bounded queue). It refuses (`Busy`, so HTTP 429 with ``Retry-After``)
  when the pipeline is above its high watermark (``pipeline.in_flight >=
  watermarks.high``) and the inbox already holds ``high`` events waiting, or when the
  inbox has no room: backpressure reaches the client instead of memory.
- `KafkaIngest`: the events are written to a topic with ``acks=all`` and 202 comes when
  every broker in sync has them; the pipeline (this process or others) reads the topic
  with a `KafkaSource`. Records are keyed and headed as `KafkaSink` writes them. It
  refuses when ``ProducerSettings.max_pending`` records are already on their way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from reagents.errors import ReagentsError
from reagents.events import AgentEvent, encode_event
from reagents.kafka.config import KafkaConfig
from reagents.kafka.producer import Headers, ProducerSettings, ReliableProducer
from reagents.pipelines.pipeline import Pipeline
from reagents.sinks.kafka import conversation_key, event_headers
from reagents.sources.memory import SourceClosedError

__all__ = [
    "Busy",
    "Handoff",
    "HandoffFailed",
    "InboxHandoff",
    "KafkaIngest",
    "TooMany",
    "wait_for_room",
]

RETRY_AFTER = 1
"""Seconds a refused client is asked to wait (``Retry-After``)."""


class Busy(ReagentsError, RuntimeError):
    """No room for the events now; try again after ``retry_after`` seconds."""

    def __init__(self, reason: str, retry_after: int = RETRY_AFTER) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class TooMany(ReagentsError, ValueError):
    """More events in one request than the target can ever take at once."""


class HandoffFailed(ReagentsError, RuntimeError):
    """The events could not be handed off (pipeline stopped, broker unreachable)."""


class Handoff(Protocol):
    """A place accepted events go. `refuse` and `hand_off` run back to back."""

    def refuse(self, count: int) -> None:
        """Raise `Busy` if ``count`` more events do not fit now."""

    async def hand_off(self, events: Sequence[AgentEvent]) -> None:
        """Return once ``events`` are handed off; `HandoffFailed` if they were not."""

    async def close(self) -> None:
        """Release what the hand-off holds (the app's shutdown calls it)."""


async def wait_for_room(handoff: Handoff, count: int, patience: float) -> None:
    """Return once ``count`` events fit; `Busy` if they still do not after ``patience`` s.

    A short overload becomes a little latency (as a Kafka producer blocks for room)
    instead of a 429 whose retry costs the client a second and the server a new decode.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    pause = 0.002
    while True:
        try:
            handoff.refuse(count)
            return
        except Busy:
            if loop.time() + pause > deadline:
                raise
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.05)


class InboxHandoff:
    """Queue events into ``pipeline.inbox`` (no await: nothing else runs in between)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def refuse(self, count: int) -> None:
        pipeline, inbox = self.pipeline, self.pipeline.inbox
        queued, high = len(inbox), pipeline.watermarks.high
        if queued + count > inbox.capacity:
            if count > inbox.capacity:
                raise TooMany(
                    f"{count} events are more than the pipeline's inbox holds "
                    f"({inbox.capacity}); send smaller batches"
                )
            raise Busy(f"pipeline {pipeline.name!r} is busy: its inbox is full ({queued} queued)")
        if pipeline.in_flight >= high and queued and queued + count > high:
            raise Busy(
                f"pipeline {pipeline.name!r} is busy: {pipeline.in_flight} events in flight "
                f"(high watermark {high}) and {queued} queued"
            )

    async def hand_off(self, events: Sequence[AgentEvent]) -> None:
        publish = self.pipeline.inbox.publish_nowait
        try:
            for event in events:
                publish(event)
        except SourceClosedError as error:
            raise HandoffFailed(f"pipeline {self.pipeline.name!r} is stopping: {error}") from None

    async def close(self) -> None:
        """Nothing to release: the pipeline owns its inbox."""


class KafkaIngest:
    """Write accepted events to ``topic`` and answer once the broker acknowledged them.

    ``create_app(pipeline, settings, ingest=KafkaIngest("orders", bootstrap=...))``; the
    topic must exist (see ``reagents topics``); a missing one is a 503 naming it.
    """

    def __init__(
        self,
        topic: str,
        *,
        bootstrap: str | None = None,
        config: KafkaConfig | None = None,
        producer: ProducerSettings | None = None,
    ) -> None:
        self.topic = topic
        self._producer = ReliableProducer(
            KafkaConfig.of(config, bootstrap), producer, what=f"POST /events to {topic}"
        )
        self._limit = self._producer.settings.max_pending
        self.in_flight = 0

    def refuse(self, count: int) -> None:
        if self.in_flight and self.in_flight + count > self._limit:
            raise Busy(
                f"{self.in_flight} events are on their way to Kafka topic {self.topic!r} "
                f"(limit {self._limit})"
            )

    async def hand_off(self, events: Sequence[AgentEvent]) -> None:
        records: list[tuple[str, bytes, bytes | None, Headers]] = [
            (self.topic, encode_event(e), conversation_key(e), event_headers(e)) for e in events
        ]
        self.in_flight += len(records)
        try:
            await self._producer.send_batch(records)
        except (ReagentsError, ConnectionError) as error:
            raise HandoffFailed(str(error)) from error
        finally:
            self.in_flight -= len(records)

    async def close(self) -> None:
        await self._producer.stop()
