"""`ReliableProducer`: an aiokafka producer with ``acks=all`` whose failures surface.

A send is retried ``send_retries`` times (with backoff) when its delivery fails, then
raises `KafkaSendError`; nothing is dropped silently. Sends may be awaited one by one
(`send_and_wait`) or pipelined (`send`: at most ``max_pending`` undelivered, each
checked at the next `flush` or when the window is full). ``async with
ReliableProducer(config) as producer:`` stops it (flushing first) on the way out.

A record for a topic the cluster does not have raises `MissingTopicError` before
anything is sent (`TopicCache`): the broker is never relied on to create topics, so a
misaddressed record cannot vanish into a new topic nobody reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reagents.errors import ReagentsError
from reagents.extras import KAFKA_HINT, require_extra
from reagents.kafka.client_options import Compression, check_compression
from reagents.kafka.config import KafkaConfig, require_aiokafka
from reagents.kafka.topic_cache import TopicCache
from reagents.kafka.topology import create_hint

__all__ = ["KafkaSendError", "MissingTopicError", "ProducerSettings", "ReliableProducer"]

_log = logging.getLogger(__name__)

Headers = list[tuple[str, bytes]]


class KafkaSendError(ReagentsError, RuntimeError):
    """A record could not be delivered after every retry."""


class MissingTopicError(KafkaSendError):
    """A record was for a topic the cluster does not have (nothing was sent)."""

    def __init__(self, message: str, topics: Sequence[str]) -> None:
        super().__init__(message)
        self.topics = tuple(topics)


class ProducerSettings(BaseModel):
    """Batching, compression and retries of a producer (``acks`` is always ``all``).

    ``compression``: ``gzip``, ``snappy``, ``lz4``, ``zstd`` or ``none``; unset, the
    producer uses `KafkaConfig.compression`.

    ``auto_create_topics``: send to topics the cluster does not list, leaving it to the
    broker to create them (if it is configured to); off, such a send raises
    `MissingTopicError`. ``topic_recheck``: seconds between two requests for the
    cluster's topics when a send names an unknown one (short enough that a sink's
    retries of such a send see a topic created meanwhile).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    linger_ms: int = Field(default=5, ge=0)
    max_batch_size: int = Field(default=64 * 1024, ge=1024)
    compression: Compression | None = None
    send_retries: int = Field(default=3, ge=0)
    retry_backoff: float = Field(default=0.2, ge=0)
    max_pending: int = Field(default=10_000, ge=1)
    auto_create_topics: bool = False
    topic_recheck: float = Field(default=0.5, ge=0)

    @field_validator("compression")
    @classmethod
    def _codec_installed(cls, value: Compression | None) -> Compression | None:
        return value if value == "none" else check_compression(value)


class _Pending:
    __slots__ = ("attempts", "future", "headers", "key", "topic", "value")

    def __init__(
        self, topic: str, value: bytes, key: bytes | None, headers: Headers, future: Any
    ) -> None:
        self.topic, self.value, self.key, self.headers = topic, value, key, headers
        self.future = future
        self.attempts = 1


class ReliableProducer:
    """Starts lazily on the first send; `stop` flushes what is pending first."""

    def __init__(
        self, config: KafkaConfig, settings: ProducerSettings | None = None, what: str = "producer"
    ) -> None:
        require_extra("aiokafka", KAFKA_HINT)  # fail when built, not at the first send
        self.config = config
        self.settings = settings or ProducerSettings()
        self.what = what
        self.sent = 0
        self._producer: Any = None
        self._starting: asyncio.Lock | None = None
        self._pending: deque[_Pending] = deque()
        self._topics = TopicCache(self._list_topics, recheck=self.settings.topic_recheck)
        self._any_topic = self.settings.auto_create_topics

    async def start(self) -> None:
        """Connect (bounded retries; `KafkaUnavailableError` when the cluster is away)."""
        if self._producer is not None:
            return
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._producer is not None:
                return
            aiokafka = require_aiokafka()
            s = self.settings
            options = self.config.producer_options()
            if s.compression is not None:
                options["compression_type"] = None if s.compression == "none" else s.compression
            producer = aiokafka.AIOKafkaProducer(
                **options, acks="all", linger_ms=s.linger_ms, max_batch_size=s.max_batch_size
            )
            await self.config.start_client(producer.start, producer.stop, self.what)
            self._producer = producer

    async def send(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers | None = None
    ) -> None:
        """Queue a record; waits only when ``max_pending`` records are undelivered."""
        await self.start()
        if not (self._any_topic or topic in self._topics):
            await self._require(topic)
        while len(self._pending) >= self.settings.max_pending:
            await self._settle(self._pending.popleft())
        entry = _Pending(topic, value, key, headers or [], None)
        entry.future = await self._enqueue(entry)
        self._pending.append(entry)

    async def send_and_wait(
        self, topic: str, value: bytes, key: bytes | None = None, headers: Headers | None = None
    ) -> None:
        """Send one record and wait until the cluster acknowledged it (``acks=all``)."""
        await self.start()
        if not (self._any_topic or topic in self._topics):
            await self._require(topic)
        entry = _Pending(topic, value, key, headers or [], None)
        entry.future = await self._enqueue(entry)
        await self._settle(entry)

    async def send_many(self, records: Sequence[tuple[str, bytes, bytes | None, Headers]]) -> None:
        """Send several records pipelined, then wait for all of them."""
        for topic, value, key, headers in records:
            await self.send(topic, value, key, headers)
        await self.flush()

    async def send_batch(self, records: Sequence[tuple[str, bytes, bytes | None, Headers]]) -> None:
        """Send ``records`` pipelined and wait until the cluster acknowledged each one.

        Unlike `send_many` it waits for its own records only, so concurrent callers
        neither settle nor miss each other's; the first failure is raised after all
        of them were settled.
        """
        await self.start()
        for topic in {record[0] for record in records}:
            if not (self._any_topic or topic in self._topics):
                await self._require(topic)
        entries = []
        for topic, value, key, headers in records:
            entry = _Pending(topic, value, key, headers, None)
            entry.future = await self._enqueue(entry)
            entries.append(entry)
        failure: KafkaSendError | None = None
        for entry in entries:
            try:
                await self._settle(entry)
            except KafkaSendError as error:
                failure = failure or error
        if failure is not None:
            raise failure

    async def missing_topics(self, topics: Iterable[str]) -> list[str]:
        """The ones of ``topics`` the cluster does not have (none with auto-creation).

        Known topics are answered from a cache; an unknown one refreshes it (at most
        every ``topic_recheck`` seconds), so a topic created meanwhile is found.
        """
        if self._any_topic:
            return []
        await self.start()
        return await self._topics.missing(topics)

    async def _require(self, topic: str) -> None:
        if await self._topics.missing((topic,)):
            raise MissingTopicError(
                f"{self.what}: topic {topic!r} does not exist (reagents does not let the "
                f"broker create topics on a send); {create_hint([topic])}",
                [topic],
            )

    async def _list_topics(self) -> set[str]:
        """Every topic in the cluster's metadata (asking for all of them creates none)."""
        cluster = await self._producer.client.fetch_all_metadata()
        topics: set[str] = cluster.topics()
        return topics

    @property
    def pending(self) -> int:
        """Records sent but not yet confirmed."""
        return len(self._pending)

    async def flush(self) -> None:
        """Wait until every queued record is delivered (raises `KafkaSendError`)."""
        while self._pending:
            await self._settle(self._pending.popleft())

    async def stop(self) -> None:
        """Flush, then disconnect (the producer is stopped even when the flush fails).

        A stopped producer starts again on the next send; stopping twice is harmless.
        """
        try:
            await self.flush()
        finally:
            producer, self._producer = self._producer, None
            if producer is not None:
                await producer.stop()

    async def close(self) -> None:
        """The same as `stop`."""
        await self.stop()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _enqueue(self, entry: _Pending) -> Any:
        """The delivery future of ``entry``; a failure to enqueue becomes a failed future."""
        errors = require_aiokafka("errors")
        try:
            return await self._producer.send(
                entry.topic, entry.value, key=entry.key, headers=entry.headers
            )
        except errors.KafkaError as error:
            failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            failed.set_exception(error)
            return failed

    async def _settle(self, entry: _Pending) -> None:
        errors = require_aiokafka("errors")
        while True:
            try:
                await entry.future
            except errors.KafkaError as error:
                if entry.attempts > self.settings.send_retries:
                    raise KafkaSendError(
                        f"{self.what}: record to {entry.topic!r} not delivered after "
                        f"{entry.attempts} attempts: {type(error).__name__}: {error}"
                    ) from error
                _log.warning(
                    "%s: send to %s failed (attempt %d), retrying: %s",
                    self.what,
                    entry.topic,
                    entry.attempts,
                    error,
                )
                await asyncio.sleep(self.settings.retry_backoff * 2 ** (entry.attempts - 1))
                entry.attempts += 1
                entry.future = await self._enqueue(entry)
            else:
                self.sent += 1
                return
