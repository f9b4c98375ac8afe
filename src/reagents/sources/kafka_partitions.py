"""Per-partition bookkeeping of the `KafkaSource`: acks, pauses and the polled backlog.

`Partition` turns one assigned partition's out-of-order acks into the next offset to
commit (`OrderedAcks`, O(1) per record) and remembers whether it is paused or revoked
(and, started at a time, skips the records stamped before it); `StuckWatch` warns
when every partition stays paused.
`Backlog` queues what the poller read, one `Polled` per partition and poll, until the
pipeline pulls it: records are decoded only then, a batch at a time, each with the
causation depth its ``reagents-depth`` header carries (and the trace context of its
``traceparent`` header, when the event has none). Nothing here talks
to Kafka; aiokafka's record types are only named for the type checker.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from reagents.delivery import Incoming, OrderedAcks
from reagents.events import AgentEvent
from reagents.kafka.headers import read_headers, with_trace_context
from reagents.sources.kafka_records import Decoder, decode_value

if TYPE_CHECKING:
    from aiokafka.structs import ConsumerRecord, TopicPartition

    Record: TypeAlias = ConsumerRecord[bytes, bytes]
    """One record as the source's consumer returns it (no deserializers: raw bytes)."""

__all__ = ["STUCK_AFTER", "Backlog", "Partition", "Polled", "StuckWatch"]

STUCK_AFTER = 60.0  # seconds every partition may stay paused before a warning


class StuckWatch:
    """Warns once if every partition stayed paused for a minute (a flow's window may
    hold records and wait for input the source's window does not let in)."""

    __slots__ = ("log", "name", "since", "warned")

    def __init__(self, name: str, log: logging.Logger) -> None:
        self.name = name
        self.log = log
        self.since: float | None = None  # when every partition was found paused
        self.warned = False

    def paused(self, in_flight: int) -> None:
        """Every partition is paused now (``since`` = None when one is not)."""
        now = time.monotonic()
        if self.since is None:
            self.since = now
        elif now - self.since > STUCK_AFTER and not self.warned:
            self.warned = True
            self.log.warning(
                "%s: every partition paused for %.0f s with %d records unacknowledged: if an "
                "agent's flow holds them waiting for more input, raise window=Watermarks(...)",
                *(self.name, now - self.since, in_flight),
            )


class Partition:
    """Ack bookkeeping of one assigned partition (O(1) per record)."""

    __slots__ = (
        "acked",
        "acks",
        "committed",
        "handed",
        "label",
        "low",
        "not_before",
        "on_room",
        "paused",
        "revoked",
        "tp",
    )

    def __init__(self, tp: TopicPartition, low: int, on_room: Callable[[], None]) -> None:
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
        self.not_before: int | None = None  # a start time (ms): older records are skipped

    def _advance(self, offset: int) -> None:
        self.acked = offset + 1
        if self.paused and len(self.acks) <= self.low:
            self.on_room()  # wake the poller now rather than at its next poll

    @property
    def settled(self) -> bool:
        """Every record handed to the pipeline is acked."""
        return self.handed is None or (self.acked is not None and self.acked >= self.handed)


class Polled:
    """One partition's records from one poll, with their acks; handed out from ``next`` on."""

    __slots__ = ("acks", "next", "part", "records")

    def __init__(
        self, part: Partition, records: list[Record], acks: list[Callable[[], None]]
    ) -> None:
        self.part = part
        self.records = records
        self.acks = acks
        self.next = 0


def _from_start_time(part: Partition, records: list[Record]) -> list[Record]:
    """``records`` from the first stamped at or after the partition's start time on
    (the start time is then reached: later records all pass)."""
    start = part.not_before
    for index, record in enumerate(records):
        if start is None or record.timestamp >= start:
            part.not_before = None
            return records[index:] if index else records
    return []


class Backlog:
    """Polled records not yet handed out, in partition order (``count`` of them)."""

    __slots__ = ("count", "queue")

    def __init__(self) -> None:
        self.queue: deque[Polled] = deque()
        self.count = 0

    def __bool__(self) -> bool:
        return bool(self.queue)

    def take(
        self,
        parts: Mapping[TopicPartition, Partition],
        polled: Mapping[TopicPartition, list[Record]],
    ) -> int:
        """Track and queue the records of one poll (of owned partitions); return how many."""
        taken = 0
        for tp, records in polled.items():
            part = parts.get(tp)
            if part is not None and part.not_before is not None:
                records = _from_start_time(part, records)
            if part is None or part.revoked or not records:
                continue
            track = part.acks.track
            acks = [track(record.offset) for record in records]
            self.queue.append(Polled(part, records, acks))
            taken += len(records)
        self.count += taken
        return taken

    def hand_out(self, size: int, decode: Decoder) -> list[Incoming]:
        """Decode up to ``size`` queued records, in partition order.

        Records are decoded only here, a batch at a time: a few live events keep the
        garbage collector's work small, however far ahead the poller has read.
        """
        out: list[Incoming] = []
        ready = self.queue
        while ready and len(out) < size:
            polled = ready[0]
            part, records, acks, start = polled.part, polled.records, polled.acks, polled.next
            if part.revoked:
                ready.popleft()
                self.count -= len(records) - start
                continue
            stop = min(len(records), start + size - len(out))
            label = part.label
            for index in range(start, stop):
                record = records[index]
                origin = f"{label}@{record.offset}"
                item = decode_value(record.value, origin, decode)
                depth, parent, state = read_headers(record.headers)
                if parent is not None and type(item) is AgentEvent:
                    item = with_trace_context(item, parent, state)
                out.append(Incoming(item, acks[index], origin, depth))
            self.count -= stop - start
            part.handed = records[stop - 1].offset + 1
            if stop == len(records):
                ready.popleft()
            else:
                polled.next = stop
        return out
