"""Per-partition bookkeeping of the `KafkaSource`: acks, pauses and the polled backlog.

`Partition` turns one assigned partition's out-of-order acks into the next offset to
commit (`OrderedAcks`, O(1) per record) and remembers whether it is paused or revoked
(and, started at a time, skips the records stamped before it).
`Backlog` queues what the poller read, one `Polled` per partition and poll, until the
pipeline pulls it: records are decoded only then, a batch at a time, each with the
causation depth its ``reagents-depth`` header carries (and the trace context of its
``traceparent`` header, when the event has none). When the pipeline is selective,
each record's route is read first (`read_route`: the JSON parsed, two fields built)
and a record nobody wants is acked unread, with its neighbours, in one range; only
the others are decoded and validated in full. Nothing here talks to Kafka;
aiokafka's record types are only named for the type checker.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, TypeAlias

from reagents.delivery import Incoming, OrderedAcks, ack_runs, noop_ack
from reagents.events import AgentEvent, read_route
from reagents.kafka.headers import read_headers, with_trace_context
from reagents.sources.base import Wants
from reagents.sources.kafka_records import Decoder, decode_value

if TYPE_CHECKING:
    from aiokafka.structs import ConsumerRecord, TopicPartition

    Record: TypeAlias = ConsumerRecord[bytes, bytes]
    """One record as the source's consumer returns it (no deserializers: raw bytes)."""

__all__ = ["Backlog", "Partition", "Polled"]


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
        "place",
        "revoked",
        "tp",
    )

    def __init__(self, tp: TopicPartition, low: int, on_room: Callable[[], None]) -> None:
        self.tp = tp
        self.low = low
        self.on_room = on_room
        self.label = f"{tp.topic}[{tp.partition}]"
        self.place = f"{self.label}@"  # a record's origin is this and its offset
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
    """One partition's records from one poll, handed out from ``next`` on; the record
    at ``index`` is ``first + index`` in the partition's `OrderedAcks`."""

    __slots__ = ("first", "next", "part", "records")

    def __init__(self, part: Partition, records: list[Record], first: int) -> None:
        self.part = part
        self.records = records
        self.first = first
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
            first = part.acks.extend([record.offset for record in records])
            self.queue.append(Polled(part, records, first))
            taken += len(records)
        self.count += taken
        return taken

    def hand_out(self, size: int, decode: Decoder, wants: Wants | None) -> list[Incoming]:
        """Up to ``size`` queued records, decoded, in partition order.

        Records are decoded only here, a batch at a time: a few live events keep the
        garbage collector's work small, however far ahead the poller has read. With
        ``wants``, a record whose route it refuses is acked without being decoded.
        """
        out: list[Incoming] = []
        ready = self.queue
        while ready and len(out) < size:
            polled = ready[0]
            part, records, start = polled.part, polled.records, polled.next
            if part.revoked:
                ready.popleft()
                self.count -= len(records) - start
                continue
            stop = _hand_out(polled, out, size, decode, wants)
            self.count -= stop - start
            part.handed = records[stop - 1].offset + 1
            if stop == len(records):
                ready.popleft()
            else:
                polled.next = stop
        return out


def _hand_out(
    polled: Polled,
    out: list[Incoming],
    size: int,
    decode: Decoder,
    wants: Wants | None,
) -> int:
    """Hand ``polled``'s records out into ``out`` until it holds ``size``; the index
    after the last record taken (handed out, or acked unread)."""
    part, records, first = polled.part, polled.records, polled.first
    acks, place = part.acks, part.place
    unread: list[int] = []  # sequence numbers acked unread, in runs, at the end
    index, end = polled.next, len(records)
    while index < end and len(out) < size:
        record = records[index]
        value = record.value
        if wants is not None:
            route = read_route(value) if value is not None else None
            if route is not None and not wants(route):
                unread.append(first + index)
                index += 1
                continue
        offset = record.offset
        item = decode_value(value, place, offset, decode)
        headers, depth = record.headers, 0
        if headers:
            depth, parent, state = read_headers(headers)
            if parent is not None and type(item) is AgentEvent:
                item = with_trace_context(item, parent, state)
        out.append(Incoming(item, noop_ack, place, depth, acks, first + index, offset))
        index += 1
    ack_runs(acks, unread)
    return index
