"""`KafkaSource`: events from Kafka topics, committed only once they are handled.

Offsets are never auto-committed: each partition's acked records become a contiguous
prefix (`OrderedAcks`) whose end is committed every ``commit_interval`` seconds, on
revocation and on `close` — at-least-once, nothing committed before it is handled.

Backpressure is per partition: a partition with ``window.high`` records in flight is
paused and resumed at ``window.low``, while a background task keeps polling (paused
partitions return nothing) so the group never evicts the consumer; each poll asks for
no more records than the free window. Undecodable records become decode dead letters
(a pipeline writes them to its dead-letter sink and acks them). Needs ``reagents[kafka]``.

    partition 0: |--0--1--2--3--4--|   acked 0 1 _ 3      → commit 2 (next to read)
    window     :  high=4 → pause(0) ... in flight <= low → resume(0)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from pydantic import ValidationError

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Incoming, OrderedAcks
from reagents.errors import ConfigurationError, check_positive
from reagents.events import AgentEvent, decode_event
from reagents.kafka.config import KafkaConfig, require_aiokafka
from reagents.policies import Watermarks
from reagents.sources.base import Source

__all__ = ["Flushable", "KafkaSource", "StartAt"]

_log = logging.getLogger(__name__)

StartAt = Literal["committed", "earliest", "latest"] | int | datetime
Decoder = Callable[[bytes], AgentEvent]
_DEAD_LETTER_KEY = b'"dead_letter_id"'


class Flushable(Protocol):
    """Something to flush before offsets are committed (a Kafka sink or dead-letter sink)."""

    async def flush(self) -> None: ...


class _Partition:
    """Ack bookkeeping of one assigned partition (O(1) per record)."""

    __slots__ = (
        "acked",
        "acks",
        "committed",
        "handed",
        "label",
        "low",
        "on_room",
        "paused",
        "revoked",
        "tp",
    )

    def __init__(self, tp: Any, low: int, on_room: Callable[[], None]) -> None:
        self.tp = tp
        self.low = low
        self.on_room = on_room
        self.label = f"{tp.topic}[{tp.partition}]"
        self.acks: OrderedAcks[int] = OrderedAcks(self._advance)
        self.acked: int | None = None  # next offset to read after the acked prefix
        self.committed: int | None = None
        self.handed: int | None = None  # next offset after the last record handed out
        self.paused = False
        self.revoked = False

    def _advance(self, offset: int) -> None:
        self.acked = offset + 1
        if self.paused and len(self.acks) <= self.low:
            self.on_room()  # wake the poller now rather than at its next poll

    @property
    def settled(self) -> bool:
        """Every record handed to the pipeline is acked."""
        return self.handed is None or (self.acked is not None and self.acked >= self.handed)


class KafkaSource(Source):
    """Consumes ``topics`` (or a regex ``pattern``) as consumer group ``group_id``.

    * ``start``: ``"committed"`` (the group's offsets; ``reset`` where there are none),
      ``"earliest"``, ``"latest"``, an offset, or a `datetime`. An explicit start is
      applied the first time this source is assigned a partition; after a rebalance
      the group's committed offsets rule.
    * ``max_poll_records`` bounds one poll; ``batch_size`` is how many records are decoded
      and handed to the pipeline at a time (small batches keep few events alive).
    * ``group_id=None``: no group, no commits; all partitions of ``topics`` are read
      (for replay). ``stop_when_idle`` ends the source after that many seconds
      without a record while partitions were assigned and none paused (end of a replay).
    * ``flush_before_commit``: sinks flushed before every commit (a pipelined
      `KafkaSink`, a `KafkaDeadLetterSink`), so nothing is committed before its
      outputs and dead letters are stored.
    * ``revoke_timeout``: how long a revoked partition's handed-out records may take
      to finish before the rest is abandoned (left uncommitted, redelivered).

    Raises `KafkaUnavailableError` (from `batches`) when the cluster cannot be reached.
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
        self.topics = (topics,) if isinstance(topics, str) else tuple(topics)
        if bool(self.topics) == bool(pattern):
            raise ConfigurationError("KafkaSource needs either topics or a pattern (not both)")
        if group_id is None and pattern:
            raise ConfigurationError("a topic pattern needs a group_id (pattern subscription)")
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
        self.window = window or Watermarks(high=4000, low=2000)
        self.batch_size = batch_size
        self.max_poll_records = max_poll_records
        self.poll_timeout_ms = int(poll_timeout * 1000)
        self.commit_interval = commit_interval
        self.revoke_timeout = revoke_timeout
        self.stop_when_idle = stop_when_idle
        self._flush_before_commit = tuple(flush_before_commit)
        self._decode = decode
        self._consumer: Any = None
        self._parts: dict[Any, _Partition] = {}
        self._started: set[Any] = set()
        # [partition, polled records, their ack callbacks, index of the next to hand out]
        self._ready: deque[list[Any]] = deque()
        self._wakeup = asyncio.Event()
        self._room = asyncio.Event()
        self._taken = asyncio.Event()
        self._ready_count = 0
        self._poller: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._exhausted = False
        self._stopping = False
        self._closed = False
        self.consumed = 0
        self.pauses = 0
        self.commits = 0

    # -- looking -------------------------------------------------------------------------

    @property
    def in_flight(self) -> int:
        """Records polled but not yet part of an acked prefix, over all partitions."""
        return sum(len(part.acks) for part in self._parts.values())

    @property
    def paused(self) -> list[str]:
        """The partitions paused right now (``topic[n]``)."""
        return [part.label for part in self._parts.values() if part.paused]

    @property
    def assignment(self) -> list[str]:
        """The partitions this source owns right now (``topic[n]``)."""
        return sorted(part.label for part in self._parts.values())

    def committed_offsets(self) -> dict[str, int]:
        """The last offsets this source committed, by partition (``topic[n]``)."""
        return {p.label: p.committed for p in self._parts.values() if p.committed is not None}

    def stop(self) -> None:
        """Poll no more: `batches` returns once what was polled is handed out."""
        self._stopping = True
        self._wakeup.set()

    # -- the pulled side -----------------------------------------------------------------

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        """Yield the records polled in the background, in partition order."""
        if self._consumer is None:
            await self._connect()
            self._poller = asyncio.get_running_loop().create_task(
                self._poll_loop(), name=f"reagents:{self.name}:poll"
            )
        ready = self._ready
        while True:
            if self._failure is not None:
                raise self._failure
            if not ready:
                if self._exhausted or (self._stopping and self._poller_done()):
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            out = self._hand_out(ready)
            self._taken.set()
            if out:
                yield out

    def _hand_out(self, ready: deque[list[Any]]) -> list[Incoming]:
        """Decode up to ``batch_size`` polled records, in partition order.

        Records are decoded only here, a batch at a time: a few live events keep the
        garbage collector's work small, however far ahead the poller has read.
        """
        out: list[Incoming] = []
        item = self._item
        while ready and len(out) < self.batch_size:
            entry = ready[0]
            part, records, acks, start = entry
            if part.revoked:
                ready.popleft()
                self._ready_count -= len(records) - start
                continue
            stop = min(len(records), start + self.batch_size - len(out))
            label = part.label
            for index in range(start, stop):
                record = records[index]
                origin = f"{label}@{record.offset}"
                out.append(Incoming(item(record.value, origin), acks[index], origin))
            self._ready_count -= stop - start
            part.handed = records[stop - 1].offset + 1
            if stop == len(records):
                ready.popleft()
            else:
                entry[3] = stop
        return out

    async def close(self) -> None:
        """Stop polling, commit the acked prefix of every partition, leave the group."""
        if self._closed:
            return
        self._closed = True
        self.stop()
        if self._poller is not None:
            await asyncio.gather(self._poller, return_exceptions=True)
        consumer = self._consumer
        if consumer is None:
            return
        try:
            await self._commit(list(self._parts.values()))
        except Exception:
            _log.exception("%s: the final commit failed (records will be redelivered)", self.name)
        finally:
            self._consumer = None
            await consumer.stop()

    # -- connecting ----------------------------------------------------------------------

    async def _connect(self) -> None:
        aiokafka = require_aiokafka()
        initial = self.start if isinstance(self.start, str) and self.start != "committed" else None
        consumer = aiokafka.AIOKafkaConsumer(
            **self.config.consumer_options(),
            group_id=self.group_id,
            auto_offset_reset=initial or self.reset,
            max_poll_records=self.max_poll_records,
        )
        await self.config.start_client(consumer.start, consumer.stop, f"source {self.name}")
        self._consumer = consumer
        try:
            if self.group_id is None:
                await self._assign_all(consumer)
            elif self.pattern:
                consumer.subscribe(pattern=self.pattern, listener=_listener(self))
            else:
                consumer.subscribe(list(self.topics), listener=_listener(self))
        except BaseException:
            self._consumer = None
            await consumer.stop()
            raise

    async def _assign_all(self, consumer: Any) -> None:
        structs = require_aiokafka("structs")
        await consumer.topics()  # fetches metadata
        partitions: list[Any] = []
        for topic in self.topics:
            numbers = consumer.partitions_for_topic(topic)
            if not numbers:
                raise ConfigurationError(f"{self.name}: topic {topic!r} does not exist")
            partitions.extend(structs.TopicPartition(topic, n) for n in sorted(numbers))
        consumer.assign(partitions)
        await self._assigned(partitions)

    # -- rebalancing ---------------------------------------------------------------------

    async def _assigned(self, partitions: Iterable[Any]) -> None:
        if self._consumer is None:  # a join that completed while closing
            return
        for tp in partitions:
            if tp not in self._parts or self._parts[tp].revoked:
                self._parts[tp] = _Partition(tp, self.window.low, self._room.set)
            if tp not in self._started:
                self._started.add(tp)
                await self._seek_start(tp)
        _log.info("%s: assigned %s", self.name, self.assignment)

    async def _seek_start(self, tp: Any) -> None:
        consumer, start = self._consumer, self.start
        if start == "earliest":
            await consumer.seek_to_beginning(tp)
        elif start == "latest":
            await consumer.seek_to_end(tp)
        elif isinstance(start, datetime):
            millis = int(start.replace(tzinfo=start.tzinfo or UTC).timestamp() * 1000)
            found = (await consumer.offsets_for_times({tp: millis})).get(tp)
            if found is None:
                await consumer.seek_to_end(tp)
            else:
                consumer.seek(tp, found.offset)
        elif isinstance(start, int):
            consumer.seek(tp, start)

    async def _revoked(self, partitions: Iterable[Any]) -> None:
        """Finish (up to ``revoke_timeout``) or abandon the partitions' work; commit it."""
        parts = [self._parts[tp] for tp in partitions if tp in self._parts]
        for part in parts:
            part.revoked = True  # queued records of it are no longer handed out
        deadline = time.monotonic() + self.revoke_timeout
        while not all(p.settled for p in parts) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        try:
            await self._commit(parts, revoking=True)
        except Exception as error:
            _log.warning("%s: commit on revocation failed: %s", self.name, error)
        for part in parts:
            self._parts.pop(part.tp, None)
        if parts:
            _log.info("%s: revoked %s", self.name, [p.label for p in parts])

    # -- polling -------------------------------------------------------------------------

    async def _poll_loop(self) -> None:
        consumer = self._consumer
        next_commit = time.monotonic() + self.commit_interval
        idle_since = time.monotonic()
        try:
            while not self._stopping:
                if self._ready_count >= self.max_poll_records:  # one poll ahead is enough
                    self._taken.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._taken.wait(), self.poll_timeout_ms / 1000)
                room = self._update_pauses(consumer)
                if room <= 0 and self._parts:  # all paused: wait for the low mark, then poll
                    self._room.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._room.wait(), self.poll_timeout_ms / 1000)
                    polled = await consumer.getmany(timeout_ms=0, max_records=1)
                else:
                    polled = await consumer.getmany(
                        timeout_ms=self.poll_timeout_ms,
                        max_records=max(1, min(room, self.max_poll_records)),
                    )
                now = time.monotonic()
                if polled and self._take(polled):
                    idle_since = now
                    self._wakeup.set()
                elif self.paused or self.stop_when_idle is None or not self._parts:
                    idle_since = now
                elif now - idle_since >= self.stop_when_idle and not self._ready:
                    self._exhausted = True
                if now >= next_commit:
                    await self._commit(list(self._parts.values()))
                    next_commit = now + self.commit_interval
                if self._exhausted:
                    break
        except Exception as error:  # handed to the pipeline through batches()
            self._failure = error
        finally:
            self._wakeup.set()

    def _update_pauses(self, consumer: Any) -> int:
        """Pause full partitions, resume drained ones; return the free window."""
        high, low = self.window.high, self.window.low
        room = 0
        for part in self._parts.values():
            in_flight = len(part.acks)
            if part.paused and in_flight <= low:
                consumer.resume(part.tp)
                part.paused = False
            elif not part.paused and in_flight >= high:
                consumer.pause(part.tp)
                part.paused = True
                self.pauses += 1
            if not part.paused:
                room += high - in_flight
        return room

    def _take(self, polled: dict[Any, list[Any]]) -> int:
        taken = 0
        for tp, records in polled.items():
            part = self._parts.get(tp)
            if part is None or part.revoked or not records:
                continue
            track = part.acks.track
            acks = [track(record.offset) for record in records]
            self._ready.append([part, records, acks, 0])
            taken += len(records)
        self._ready_count += taken
        self.consumed += taken
        return taken

    def _item(self, value: bytes | None, origin: str) -> AgentEvent | DeadLetter:
        if value is None:
            error = ValueError("empty record (a tombstone): no event")
            return DeadLetter.from_error(FailureStage.DECODE, error, raw=b"", origin=origin)
        try:
            return self._decode(value)
        except Exception as error:  # any decoder failure becomes a dead letter
            if _DEAD_LETTER_KEY in value:
                replayed = _replayed(value)
                if replayed is not None:
                    return replayed
            return DeadLetter.from_error(FailureStage.DECODE, error, raw=value, origin=origin)

    # -- committing ----------------------------------------------------------------------

    async def _commit(self, parts: Sequence[_Partition], *, revoking: bool = False) -> None:
        consumer = self._consumer
        if self.group_id is None or consumer is None:
            return
        offsets = {
            p.tp: p.acked
            for p in parts
            if p.acked is not None and p.acked != p.committed and (revoking or not p.revoked)
        }
        if not offsets:
            return
        for sink in self._flush_before_commit:
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

    def _poller_done(self) -> bool:
        return self._poller is None or self._poller.done()


def _replayed(value: bytes) -> AgentEvent | DeadLetter | None:
    """A dead-letter record (from a dead-letter topic) as the event to try again."""
    try:
        letter = DeadLetter.model_validate_json(value)
    except ValidationError:
        return None
    if letter.event is not None:
        return letter.event.model_copy(update={"retry_count": 0})
    try:
        return decode_event(letter.raw or b"")
    except Exception:  # still bad: the original dead letter again
        return letter


def _listener(source: KafkaSource) -> Any:
    """An aiokafka rebalance listener that forwards to ``source``."""
    base: type = require_aiokafka().ConsumerRebalanceListener

    class Listener(base):  # type: ignore[misc]
        async def on_partitions_revoked(self, revoked: Any) -> None:
            await source._revoked(revoked)

        async def on_partitions_assigned(self, assigned: Any) -> None:
            await source._assigned(assigned)

    return Listener()
