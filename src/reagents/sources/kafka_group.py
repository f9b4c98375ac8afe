"""A `KafkaSource`'s consumer in its group: joining, rebalancing, seeking, committing.

`Membership` holds the started consumer and the `Partition` of every partition it
owns. Joining subscribes to the topics or the pattern with a rebalance listener, or,
without a group, assigns every partition of the topics. An explicit start is applied
the first time a partition is assigned; after that the group's committed offsets rule.
A start time is the records' own Kafka timestamp: a partition starts at its first
record stamped at or after it, or at its end when there is none yet.
A revoked partition's handed-out records get ``revoke_timeout`` seconds to be acked;
then its acked prefix is committed and the rest abandoned (redelivered). Offsets are
committed only after the ``flush_before_commit`` sinks are flushed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol

from reagents.errors import ConfigurationError
from reagents.kafka.config import require_aiokafka
from reagents.kafka.topology import create_hint
from reagents.sources.kafka_partitions import Partition

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.abc import ConsumerRebalanceListener
    from aiokafka.structs import TopicPartition

__all__ = ["Flushable", "Membership", "StartAt", "check_start"]

_log = logging.getLogger("reagents.sources.kafka")  # the source's own logger

_POSITION_TIMEOUT = 1.0  # seconds `lag` waits for a partition's position (after a reset)

StartAt = Literal["committed", "earliest", "latest"] | int | datetime


def check_start(start: StartAt) -> None:
    """Raise `ConfigurationError` unless ``start`` is a `StartAt`."""
    if not isinstance(start, int | datetime) and start not in (
        "committed",
        "earliest",
        "latest",
    ):
        raise ConfigurationError(
            f"start must be 'committed', 'earliest', 'latest', an offset or a datetime, "
            f"got {start!r}"
        )
    if isinstance(start, int) and start < 0:
        raise ConfigurationError(f"start offset must be >= 0, got {start}")


class Flushable(Protocol):
    """Something to flush before offsets are committed (a Kafka sink or dead-letter sink)."""

    async def flush(self) -> None: ...


class Membership:
    """The partitions a source's consumer owns, where it starts them, what it commits."""

    def __init__(
        self,
        name: str,
        *,
        group_id: str | None,
        start: StartAt,
        low: int,
        on_room: Callable[[], None],
        revoke_timeout: float,
        flush_before_commit: tuple[Flushable, ...],
    ) -> None:
        self.name = name
        self.group_id = group_id
        self.start = start
        self.low = low
        self.on_room = on_room
        self.revoke_timeout = revoke_timeout
        self.flush_before_commit = flush_before_commit
        self.consumer: AIOKafkaConsumer | None = None
        self.parts: dict[TopicPartition, Partition] = {}
        self.started: set[TopicPartition] = set()
        self.commits = 0

    @property
    def assignment(self) -> list[str]:
        """The partitions owned right now (``topic[n]``)."""
        return sorted(part.label for part in self.parts.values())

    async def ping(self, timeout: float) -> str | None:
        """``None`` if the brokers answer a metadata request within ``timeout`` s, else why.

        A cheap probe (one request on the consumer's connections) for readiness checks.
        """
        consumer = self.consumer
        if consumer is None:
            return "not connected to Kafka yet"
        try:
            async with asyncio.timeout(timeout):
                await consumer.topics()
        except TimeoutError:
            return f"Kafka brokers did not answer a metadata request within {timeout:g} s"
        except Exception as error:  # the client's connection errors, whatever their type
            detail, kind = str(error), type(error).__name__
            return f"Kafka brokers unreachable: {detail if kind in detail else f'{kind}: {detail}'}"
        return None

    async def lag(self) -> dict[str, int]:
        """Records behind, by owned partition: its high watermark as of the last fetch
        minus the consumer's position (partitions not fetched yet are left out)."""
        consumer = self.consumer
        if consumer is None:
            return {}
        errors = require_aiokafka("errors")
        lags: dict[str, int] = {}
        for tp, part in list(self.parts.items()):
            try:
                high = None if part.revoked else consumer.highwater(tp)
                if high is None:
                    continue
                async with asyncio.timeout(_POSITION_TIMEOUT):  # only while being reset
                    lags[part.label] = max(0, high - await consumer.position(tp))
            except (AssertionError, TimeoutError, errors.KafkaError):
                continue  # revoked meanwhile, or no position now: no figure this time
        return lags

    # -- joining -------------------------------------------------------------------------

    async def join(
        self, consumer: AIOKafkaConsumer, topics: Sequence[str], pattern: str | None
    ) -> None:
        """Take the started ``consumer``: subscribe it, or assign it all of ``topics``."""
        self.consumer = consumer
        try:
            if self.group_id is None:
                await self._assign_all(consumer, topics)
            elif pattern:
                consumer.subscribe(pattern=pattern, listener=_listener(self))
            else:
                await self._require_topics(consumer, topics)
                consumer.subscribe(list(topics), listener=_listener(self))
        except BaseException:
            self.consumer = None
            await consumer.stop()
            raise

    async def _require_topics(self, consumer: AIOKafkaConsumer, topics: Sequence[str]) -> None:
        """Raise `ConfigurationError` unless every one of ``topics`` exists.

        Subscribing to a missing topic would let the broker create it (aiokafka asks
        for a topic's metadata with auto-creation on): an idle consumer of a typo.
        """
        existing = await consumer.topics()  # the metadata of every topic: creates none
        missing = [topic for topic in topics if topic not in existing]
        if missing:
            raise ConfigurationError(
                f"{self.name}: topic(s) {', '.join(map(repr, missing))} do not exist; "
                f"{create_hint(missing)}"
            )

    async def _assign_all(self, consumer: AIOKafkaConsumer, topics: Sequence[str]) -> None:
        structs = require_aiokafka("structs")
        await self._require_topics(consumer, topics)
        partitions: list[TopicPartition] = []
        for topic in topics:
            numbers = consumer.partitions_for_topic(topic)
            if not numbers:
                raise ConfigurationError(f"{self.name}: no partitions known for topic {topic!r}")
            partitions.extend(structs.TopicPartition(topic, n) for n in sorted(numbers))
        consumer.assign(partitions)
        await self.assigned(partitions)

    async def leave(self) -> None:
        """Commit the acked prefix of every partition and stop the consumer."""
        consumer = self.consumer
        if consumer is None:
            return
        try:
            await self.commit(list(self.parts.values()))
        except Exception:
            _log.exception("%s: the final commit failed (records will be redelivered)", self.name)
        finally:
            self.consumer = None
            await consumer.stop()

    # -- rebalancing ---------------------------------------------------------------------

    async def assigned(self, partitions: Iterable[TopicPartition]) -> None:
        """Track newly assigned partitions; seek the ones never started to ``start``."""
        consumer = self.consumer
        if consumer is None:  # a join that completed while closing
            return
        for tp in partitions:
            if tp not in self.parts or self.parts[tp].revoked:
                self.parts[tp] = Partition(tp, self.low, self.on_room)
            if tp not in self.started:
                self.started.add(tp)
                await self._seek_start(consumer, tp)
        _log.info("%s: assigned %s", self.name, self.assignment)

    async def _seek_start(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        start = self.start
        if start == "earliest":
            await consumer.seek_to_beginning(tp)
        elif start == "latest":
            await consumer.seek_to_end(tp)
        elif isinstance(start, datetime):
            millis = int(start.replace(tzinfo=start.tzinfo or UTC).timestamp() * 1000)
            found = (await consumer.offsets_for_times({tp: millis})).get(tp)
            if found is None or found.timestamp < 0:  # none that late (Tansu: offset 0, ts -1)
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)
            # The end or the offset found may lie inside a batch of older records (Tansu
            # answers batch offsets): those are skipped up to the first that is not.
            self.parts[tp].not_before = millis
        elif isinstance(start, int):
            consumer.seek(tp, start)

    async def revoked(self, partitions: Iterable[TopicPartition]) -> None:
        """Finish (up to ``revoke_timeout``) or abandon the partitions' work; commit it."""
        parts = [self.parts[tp] for tp in partitions if tp in self.parts]
        for part in parts:
            part.revoked = True  # queued records of it are no longer handed out
        deadline = time.monotonic() + self.revoke_timeout
        while not all(p.settled for p in parts) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        try:
            await self.commit(parts, revoking=True)
        except Exception as error:
            _log.warning("%s: commit on revocation failed: %s", self.name, error)
        for part in parts:
            self.parts.pop(part.tp, None)
        if parts:
            _log.info("%s: revoked %s", self.name, [p.label for p in parts])

    # -- committing ----------------------------------------------------------------------

    async def commit(self, parts: Sequence[Partition], *, revoking: bool = False) -> None:
        """Commit the acked prefix of ``parts`` (of revoked ones too when ``revoking``)."""
        consumer = self.consumer
        if self.group_id is None or consumer is None:
            return
        offsets = {
            p.tp: p.acked
            for p in parts
            if p.acked is not None and p.acked != p.committed and (revoking or not p.revoked)
        }
        if not offsets:
            return
        for sink in self.flush_before_commit:
            await sink.flush()
        errors = require_aiokafka("errors")
        try:
            await consumer.commit(offsets)
        except errors.KafkaError as error:  # a rebalance in progress: committed later or
            _log.warning("%s: commit failed: %s", self.name, error)  # redelivered
            return
        self.commits += 1
        for part in parts:
            if part.tp in offsets:
                part.committed = offsets[part.tp]


def _listener(member: Membership) -> ConsumerRebalanceListener:
    """An aiokafka rebalance listener that forwards to ``member``."""
    base: type = require_aiokafka().ConsumerRebalanceListener

    class Listener(base):  # type: ignore[misc]  # a base known only at run time (lazy import)
        async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
            await member.revoked(revoked)

        async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
            await member.assigned(assigned)

    listener: ConsumerRebalanceListener = Listener()
    return listener
