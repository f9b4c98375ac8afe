"""`MemoryLog`: an in-memory log of raw records that reads like one Kafka partition.

A test double with the Kafka source's commit semantics and no broker. `MemoryLogSource`
reads the log as a consumer group: it starts at the group's committed offset, commits
the contiguous prefix of acknowledged records (`OrderedAcks`), pauses at
``window.high`` records in flight and resumes at ``window.low``, and hands undecodable
records over as decode dead letters. A new source on the same log and group delivers
again everything not acknowledged, as a consumer restarted after a crash does.
`MemoryLogSink` appends encoded events to a log, buffered until flushed::

    log     : |--0--1--2--3--4--|   acked 0 1 _ 3   → committed 2
    restart : a new source of the group reads 2, 3, 4 again
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Incoming, OrderedAcks
from reagents.errors import check_positive
from reagents.events import AgentEvent, decode_event, encode_event
from reagents.operators.filters import Filter
from reagents.policies import Watermarks
from reagents.sinks.base import Sink
from reagents.sources.base import Source

__all__ = ["DEFAULT_GROUP", "MemoryLog", "MemoryLogSink", "MemoryLogSource"]

DEFAULT_GROUP = "default"

Decoder = Callable[[bytes], AgentEvent]


class MemoryLog:
    """Raw records in append order, and the committed offset of each consumer group."""

    def __init__(self, name: str = "log") -> None:
        self.name = name
        self.records: list[bytes] = []
        self._committed: dict[str, int] = {}
        self._watchers: set[asyncio.Event] = set()

    def __len__(self) -> int:
        """How many records the log holds."""
        return len(self.records)

    def append(self, record: bytes) -> int:
        """Append one raw record (any bytes, even undecodable ones); return its offset."""
        self.records.append(record)
        for watcher in self._watchers:
            watcher.set()
        return len(self.records) - 1

    def append_events(self, events: Sequence[AgentEvent]) -> None:
        """Append each event in its wire form (`encode_event`)."""
        for event in events:
            self.append(encode_event(event))

    def events(self) -> list[AgentEvent]:
        """Every record decoded (raises `EventDecodeError` at an undecodable one)."""
        return [decode_event(record) for record in self.records]

    def committed(self, group: str = DEFAULT_GROUP) -> int:
        """The offset ``group`` reads next: every record before it was acknowledged."""
        return self._committed.get(group, 0)

    def commit(self, group: str, offset: int) -> None:
        """Store ``offset`` as the next record ``group`` reads."""
        if not 0 <= offset <= len(self.records):
            raise ValueError(f"offset {offset} is outside log {self.name!r} (0..{len(self)})")
        self._committed[group] = offset

    def watch(self, wakeup: asyncio.Event) -> None:
        """Set ``wakeup`` whenever a record is appended (until `unwatch`)."""
        self._watchers.add(wakeup)

    def unwatch(self, wakeup: asyncio.Event) -> None:
        """Stop setting ``wakeup`` on appends."""
        self._watchers.discard(wakeup)


class MemoryLogSource(Source):
    """Reads a `MemoryLog` as consumer group ``group``, committing only what was acked.

    * It starts at the group's committed offset, and commits the end of the contiguous
      acked prefix as soon as it grows (a Kafka consumer commits every few seconds:
      the same records, fewer redeliveries). Once closed, it commits nothing more.
    * At ``window.high`` records in flight (handed out and not in the acked prefix)
      it stops reading until they are down to ``window.low``; ``pauses`` counts that.
    * It ends at the end of the log; with ``follow`` it waits for appended records
      until `stop` or `close`.
    """

    def __init__(
        self,
        log: MemoryLog,
        *,
        group: str = DEFAULT_GROUP,
        name: str | None = None,
        window: Watermarks | None = None,
        batch_size: int = 64,
        follow: bool = False,
        decode: Decoder = decode_event,
    ) -> None:
        check_positive(batch_size=batch_size)
        self.log = log
        self.group = group
        self.name = name if name is not None else f"memory-log:{log.name}"
        self.window = window or Watermarks(high=4000, low=2000)
        self.batch_size = batch_size
        self.follow = follow
        self.paused = False
        self.pauses = 0
        self.consumed = 0
        self._decode = decode
        self._acks: OrderedAcks[int] = OrderedAcks(self._advance)
        self._next: int | None = None
        self._wakeup = asyncio.Event()
        self._stopped = False
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Records handed out and not yet part of the acked prefix."""
        return len(self._acks)

    @property
    def committed(self) -> int:
        """The group's committed offset in the log."""
        return self.log.committed(self.group)

    def stop(self) -> None:
        """Read no further: `batches` returns at its next batch boundary."""
        self._stopped = True
        self._wakeup.set()

    async def close(self) -> None:
        """Stop; acks that arrive after this are not committed."""
        self.stop()
        self._closed = True

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        """Yield up to ``batch_size`` records at a time, within the free window."""
        log, high = self.log, self.window.high
        if self._next is None:
            self._next = log.committed(self.group)
        log.watch(self._wakeup)
        try:
            while not self._stopped:
                self._wakeup.clear()
                room, available = high - self.in_flight, len(log) - self._next
                if room <= 0:
                    if not self.paused:
                        self.paused = True
                        self.pauses += 1
                    await self._wakeup.wait()
                elif available > 0:
                    yield self._take(min(self.batch_size, room, available))
                elif self.follow:
                    await self._wakeup.wait()
                else:
                    return
        finally:
            log.unwatch(self._wakeup)

    def _take(self, count: int) -> list[Incoming]:
        assert self._next is not None
        start, self._next = self._next, self._next + count
        self.consumed += count
        batch = []
        for offset in range(start, start + count):
            origin = f"{self.log.name}@{offset}"
            item = self._item(self.log.records[offset], origin)
            batch.append(Incoming(item, self._acks.track(offset), origin))
        return batch

    def _item(self, raw: bytes, origin: str) -> AgentEvent | DeadLetter:
        try:
            return self._decode(raw)
        except Exception as error:  # any decoder failure becomes a dead letter
            return DeadLetter.from_error(FailureStage.DECODE, error, raw=raw, origin=origin)

    def _advance(self, offset: int) -> None:
        if self._closed:
            return
        self.log.commit(self.group, offset + 1)
        if self.paused and self.in_flight <= self.window.low:
            self.paused = False
            self._wakeup.set()


class MemoryLogSink(Sink):
    """Appends the events its subscription matches to a `MemoryLog`, encoded.

    Writes are buffered and appended every ``flush_every`` writes and on `flush` and
    `close`, like a file or a pipelined Kafka producer.
    """

    def __init__(
        self,
        log: MemoryLog,
        subscription: Filter | str | None = None,
        name: str | None = None,
        *,
        flush_every: int = 1,
    ) -> None:
        check_positive(flush_every=flush_every)
        super().__init__(subscription, name if name is not None else f"memory-log:{log.name}")
        self.log = log
        self.flush_every = flush_every
        self._pending: list[bytes] = []

    @property
    def pending(self) -> int:
        """Events written but not yet appended to the log."""
        return len(self._pending)

    async def write(self, event: AgentEvent) -> None:
        """Buffer ``event``; append the buffer once ``flush_every`` events wait."""
        self._pending.append(encode_event(event))
        if len(self._pending) >= self.flush_every:
            self._append_pending()

    async def flush(self) -> None:
        """Append every buffered event to the log, in write order."""
        self._append_pending()

    def _append_pending(self) -> None:
        pending, self._pending = self._pending, []
        for record in pending:
            self.log.append(record)
