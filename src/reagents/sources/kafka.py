"""`KafkaSource`: events from Kafka topics, committed only once they are handled.

Offsets are never auto-committed: each partition's acked records become a contiguous
prefix (`OrderedAcks`) whose end is committed every ``commit_interval`` seconds, on
revocation and on `close` — at-least-once, nothing committed before it is handled.

Backpressure never throws fetched records away: the poller polls only while fewer
than ``max_poll_records`` wait to be handed out, else not at all (after a long stall,
once with every partition paused: the group keeps the consumer); the pipeline's
watermarks decide what it takes. ``window`` bounds, per partition, the records not yet
in its acked prefix (what a crash re-delivers): paused at ``high`` (a poll may pass it
by up to ``high - low``), resumed at ``low``. A record nobody in the pipeline
wants is acked unread (see ``kafka_partitions``); undecodable records become decode
dead letters (the pipeline writes them, then acks). Needs ``reagents[kafka]``.

    partition 0: |--0--1--2--3--4--|   acked 0 1 _ 3      → commit 2 (next to read)
    window     :  high=4 → pause(0) ... unacked <= low → resume(0)

Here: the source and its poll loop. Beside it: ``kafka_partitions`` (acks, the polled
backlog), ``kafka_window`` (pauses), ``kafka_records`` (record → event or dead letter)
and ``kafka_group`` (joining, rebalancing, seeking, committing).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import TYPE_CHECKING, Literal

from reagents.delivery import Incoming
from reagents.errors import ConfigurationError, check_positive
from reagents.events import decode_event
from reagents.extras import KAFKA_HINT, require_extra
from reagents.kafka.config import KafkaConfig, require_aiokafka
from reagents.policies import Watermarks
from reagents.sources.base import Source
from reagents.sources.kafka_group import Flushable, Membership, StartAt, check_start
from reagents.sources.kafka_partitions import Backlog
from reagents.sources.kafka_records import Decoder
from reagents.sources.kafka_window import PartitionWindow, wait_for_either

if TYPE_CHECKING:
    from aiokafka import AIOKafkaConsumer

__all__ = ["Flushable", "KafkaSource", "StartAt"]

_log = logging.getLogger(__name__)

_KEEPALIVE = 30.0  # most seconds without a poll (capped at a third of max_poll_interval)


class KafkaSource(Source):
    """Consumes ``topics`` (or a regex ``pattern``) as consumer group ``group_id``.

    * ``start``: ``"committed"`` (the group's offsets; ``reset`` where there are none),
      ``"earliest"``, ``"latest"``, an offset, or a `datetime`. An explicit start is
      applied the first time this source is assigned a partition; after a rebalance
      the group's committed offsets rule.
    * ``max_poll_records`` bounds one poll; the poller polls while fewer wait;
      ``batch_size`` is how many records are decoded and handed to the pipeline at a
      time (small batches keep few events alive).
    * ``window``: a partition with ``high`` records not yet in its acked prefix is
      paused until it is down to ``low`` (default 20,000 / 10,000).
    * ``group_id=None``: no group, no commits; all partitions of ``topics`` are read
      (for replay). ``stop_when_idle`` ends the source after that many seconds
      without a record while partitions were assigned and none paused (end of a replay).
    * ``flush_before_commit``: sinks flushed before every commit (a pipelined
      `KafkaSink`, a `KafkaDeadLetterSink`), so nothing is committed before its
      outputs and dead letters are stored.
    * ``revoke_timeout``: how long a revoked partition's handed-out records may take
      to finish before the rest is abandoned (left uncommitted, redelivered).

    Raises `MissingExtraError` when built without aiokafka (the ``kafka`` extra), and
    `KafkaUnavailableError` (from `batches`) when the cluster cannot be reached.
    """

    def __init__(
        self,
        topics: str | Sequence[str] = (),
        *,
        group_id: str | None,
        pattern: str | None = None,
        bootstrap: str | None = None,
        config: KafkaConfig | None = None,
        name: str | None = None,
        start: StartAt = "committed",
        reset: Literal["earliest", "latest"] = "earliest",
        window: Watermarks | None = None,
        batch_size: int = 64,
        max_poll_records: int = 1000,
        poll_timeout: float = 0.2,
        commit_interval: float = 1.0,
        revoke_timeout: float = 5.0,
        stop_when_idle: float | None = None,
        flush_before_commit: Iterable[Flushable] = (),
        decode: Decoder = decode_event,
    ) -> None:
        require_extra("aiokafka", KAFKA_HINT)  # fail here, not when the pipeline runs
        self.topics = (topics,) if isinstance(topics, str) else tuple(topics)
        if bool(self.topics) == bool(pattern):
            raise ConfigurationError("KafkaSource needs either topics or a pattern (not both)")
        if group_id is None and pattern:
            raise ConfigurationError("a topic pattern needs a group_id (pattern subscription)")
        check_start(start)
        check_positive(
            batch_size=batch_size,
            max_poll_records=max_poll_records,
            poll_timeout=poll_timeout,
            commit_interval=commit_interval,
            revoke_timeout=revoke_timeout,
            stop_when_idle=stop_when_idle,
        )
        self.config = KafkaConfig.of(config, bootstrap)
        self.group_id = group_id
        self.pattern = pattern
        self.name = name or f"kafka:{pattern or ','.join(self.topics)}"
        self.start = start
        self.reset = reset
        self.window = window or Watermarks(high=20_000, low=10_000)
        self.batch_size = batch_size
        self.max_poll_records = max_poll_records
        self.poll_timeout_ms = int(poll_timeout * 1000)
        self.commit_interval = commit_interval
        self.revoke_timeout = revoke_timeout
        self.stop_when_idle = stop_when_idle
        self._decode = decode
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._taken = asyncio.Event()
        self._group = Membership(
            self.name,
            group_id=group_id,
            start=start,
            low=self.window.low,
            on_room=self._room.set,
            revoke_timeout=revoke_timeout,
            flush_before_commit=tuple(flush_before_commit),
        )
        self._parts = self._group.parts  # the same dict: the group adds and drops partitions
        self._backlog = Backlog()
        self._poller: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._exhausted = False
        self._stopping = False
        self._closed = False
        self.consumed = 0
        self._window = PartitionWindow(self.name, self.window, lambda: self.flows_wait)

    @property
    def in_flight(self) -> int:
        """Records polled but not yet part of an acked prefix, over all partitions."""
        return sum(len(part.acks) for part in self._parts.values())

    @property
    def pauses(self) -> int:
        """How often a partition was paused because its window was full."""
        return self._window.pauses

    @property
    def paused(self) -> list[str]:
        """The partitions paused right now (``topic[n]``)."""
        return [part.label for part in self._parts.values() if part.paused]

    @property
    def assignment(self) -> list[str]:
        """The partitions this source owns right now (``topic[n]``)."""
        return self._group.assignment

    @property
    def commits(self) -> int:
        """How many times this source has committed offsets."""
        return self._group.commits

    async def lag(self) -> dict[str, int]:
        """Records not yet polled, by owned partition (``topic[n]``): its high watermark
        minus the consumer's position, as of the last fetch (``/metrics`` shows it)."""
        return await self._group.lag()

    def committed_offsets(self) -> dict[str, int]:
        """The last offsets this source committed, by partition (``topic[n]``)."""
        return {p.label: p.committed for p in self._parts.values() if p.committed is not None}

    async def reachable(self, timeout: float = 2.0) -> str | None:
        """``None`` if the brokers answer a metadata request within ``timeout`` s, else why."""
        return await self._group.ping(timeout)

    def stop(self) -> None:
        """Poll no more: `batches` returns once what was polled is handed out."""
        self._stopping = True
        self._wakeup.set()

    # -- the pulled side -----------------------------------------------------------------

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        """Yield the records polled in the background, in partition order."""
        if self._group.consumer is None:
            consumer = await self._connect()
            self._poller = asyncio.get_running_loop().create_task(
                self._poll_loop(consumer), name=f"reagents:{self.name}:poll"
            )
        backlog = self._backlog
        while True:
            if self._failure is not None:
                raise self._failure
            if not backlog:
                polling = self._poller is not None and not self._poller.done()
                if self._exhausted or (self._stopping and not polling):
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            out = backlog.hand_out(self.batch_size, self._decode, self.wanted(self._decode))
            if backlog.count < self.max_poll_records:
                self._taken.set()  # room for the next poll
            if out:
                yield out

    async def close(self) -> None:
        """Stop polling, commit the acked prefix of every partition, leave the group."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self._poller is not None:
            await asyncio.gather(self._poller, return_exceptions=True)
        await self._group.leave()

    # -- connecting ----------------------------------------------------------------------

    async def _connect(self) -> AIOKafkaConsumer:
        aiokafka = require_aiokafka()
        initial = self.start if isinstance(self.start, str) and self.start != "committed" else None
        consumer: AIOKafkaConsumer = aiokafka.AIOKafkaConsumer(
            **self.config.consumer_options(),
            group_id=self.group_id,
            auto_offset_reset=initial or self.reset,
            max_poll_records=self.max_poll_records,
        )
        await self.config.start_client(consumer.start, consumer.stop, f"source {self.name}")
        await self._group.join(consumer, self.topics, self.pattern)
        return consumer

    # -- polling -------------------------------------------------------------------------

    async def _poll_loop(self, consumer: AIOKafkaConsumer) -> None:
        keepalive = min(_KEEPALIVE, self.config.max_poll_interval_ms / 3000)
        next_commit = time.monotonic() + self.commit_interval
        idle_since = last_poll = time.monotonic()
        try:
            while not self._stopping:
                now = time.monotonic()
                if now >= next_commit:
                    await self._group.commit(list(self._parts.values()))
                    next_commit = now + self.commit_interval
                room = self._room_to_poll(consumer)
                if room <= 0 and now - last_poll < keepalive:  # full: not idle, waiting
                    await wait_for_either(self._taken, self._room, self.poll_timeout_ms / 1000)
                    idle_since = time.monotonic()
                    continue
                if room <= 0:  # stalled: a poll with nothing fetchable keeps the membership
                    paused = self._window.pause_all(consumer, self._parts.values())
                    polled = await consumer.getmany(timeout_ms=0)
                    self._window.resume(consumer, paused)
                else:
                    polled = await consumer.getmany(
                        timeout_ms=self.poll_timeout_ms, max_records=room
                    )
                last_poll = now = time.monotonic()
                taken = self._backlog.take(self._parts, polled) if polled else 0
                self.consumed += taken
                if taken:
                    idle_since = now
                    self._wakeup.set()
                elif self.paused or self.stop_when_idle is None or not self._parts:
                    idle_since = now
                elif now - idle_since >= self.stop_when_idle and not self._backlog:
                    self._exhausted = True  # the end of a replay
                    break
        except Exception as error:  # handed to the pipeline through batches()
            self._failure = error
        finally:
            self._wakeup.set()

    def _room_to_poll(self, consumer: AIOKafkaConsumer) -> int:
        """How many records a poll may bring now: none while a poll's worth waits to be
        handed out, else what the open partitions' windows have room for."""
        if self._backlog.count >= self.max_poll_records:
            return 0
        if not self._parts:  # none assigned yet: one partition's window at most
            return min(self.window.high, self.max_poll_records)
        return min(self._window.update(consumer, self._parts.values()), self.max_poll_records)
