"""`KafkaDeadLetterSink`: dead letters to a Kafka topic, the reason in the headers.

The record value is the `DeadLetter` JSON (so a `KafkaSource` on the topic replays
the failed events); the headers carry ``reagents-stage``, ``reagents-error-type``,
``reagents-reason``, ``reagents-agent`` and ``reagents-origin`` for tools that only
look at headers. Writes are synchronous (the pipeline's contract) and sent in the
background; list the sink in ``KafkaSource(flush_before_commit=...)`` so an offset is
committed only after its dead letter is in the topic. Send failures are kept and
raised by the next `write` or `flush`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

from reagents.dead_letter import DeadLetter
from reagents.kafka.config import KafkaConfig
from reagents.kafka.producer import Headers, ProducerSettings, ReliableProducer
from reagents.sinks.base import DeadLetterSink

__all__ = ["KafkaDeadLetterSink", "dead_letter_headers"]

_log = logging.getLogger(__name__)
_MAX_REASON = 2000


def dead_letter_headers(letter: DeadLetter) -> Headers:
    """The headers that say why ``letter`` failed (values UTF-8, the reason truncated)."""
    headers: Headers = [
        ("reagents-stage", letter.stage.value.encode()),
        ("reagents-error-type", letter.error_type.encode()),
        ("reagents-reason", letter.message[:_MAX_REASON].encode("utf-8", "replace")),
        ("reagents-attempts", str(letter.attempts).encode()),
    ]
    if letter.agent_id:
        headers.append(("reagents-agent", letter.agent_id.encode()))
    if letter.origin:
        headers.append(("reagents-origin", letter.origin.encode("utf-8", "replace")))
    if letter.event is not None:
        headers.append(("reagents-event-id", letter.event.event_id.encode()))
    return headers


class KafkaDeadLetterSink(DeadLetterSink):
    """Writes each dead letter to ``topic``, keyed by the failed event's conversation."""

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
            KafkaConfig.of(config, bootstrap), producer, what=f"dead letters to {topic}"
        )
        self._queue: deque[DeadLetter] = deque()
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._closing: asyncio.Task[None] | None = None
        self.written = 0

    @property
    def config(self) -> KafkaConfig:
        """The client settings (the cluster it writes to)."""
        return self._producer.config

    def describe(self) -> str:
        """The topic."""
        return f"Kafka topic {self.topic!r}"

    def write(self, letter: DeadLetter) -> None:
        """Queue ``letter`` for the topic (needs a running event loop)."""
        self._raise_failure()
        self._queue.append(letter)
        self.written += 1
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def flush(self) -> None:
        """Return once every written dead letter is in the topic (or raise why not)."""
        while self._task is not None and not self._task.done():
            await asyncio.wait({self._task})
        if self._queue and self._error is None:
            await self._drain()
        self._raise_failure()

    async def aclose(self) -> None:
        """Flush, then disconnect (also waits for a `close` begun in the background)."""
        closing, self._closing = self._closing, None
        if closing is not None and closing is not asyncio.current_task():
            await asyncio.wait({closing})
        try:
            await self.flush()
        finally:
            await self._producer.stop()

    def close(self) -> None:
        """Finish in the background when a loop runs (await `aclose` to be sure)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            if self._queue:
                _log.error("%d dead letters for %s were never sent", len(self._queue), self.topic)
            return
        if self._closing is None:
            self._closing = loop.create_task(self.aclose())

    async def _drain(self) -> None:
        try:
            while self._queue:
                letter = self._queue[0]
                key = letter.event.conversation_id.encode() if letter.event else None
                await self._producer.send(
                    self.topic, letter.to_json(), key, dead_letter_headers(letter)
                )
                self._queue.popleft()
            await self._producer.flush()
        except Exception as error:  # kept and raised to the next writer or flusher
            self._error = error
            _log.error("dead letters to %s failed: %s", self.topic, error)

    def _raise_failure(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error
