"""Acknowledgement plumbing between sources and the pipeline.

A source hands each record over with an ``ack`` callback. The pipeline calls it
exactly once, when every agent and sink that matched the record (and every event
derived from it in-process) has handled or dead-lettered it. Sources turn those
out-of-order acks into in-order checkpoints with `OrderedAcks`.

Inside an agent's flow (its Rx operator chain) every value is `Held`: the value and
the `Receipt` of each delivery it was made from. An operator that drops a value
releases its receipts at once; a batch or window gathers its members' receipts into
one `Held`; the runtime releases them when the handler has handled (or dead-lettered)
what the flow emitted. So acks follow content, whatever order values come out in.

How deep in a chain of reactions an event is (its causation depth, 0 straight from a
source) travels with it: a source that reads it back from another process says so
(``Incoming.depth``), and `causation_depth` tells a sink writing it elsewhere, so a
pipeline's cycle guard (``max_depth``) holds across processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from reagents.dead_letter import DeadLetter
from reagents.events import AgentEvent

__all__ = [
    "Ack",
    "Held",
    "Incoming",
    "OrderedAcks",
    "Receipt",
    "ack_runs",
    "causation_depth",
    "noop_ack",
]

P = TypeVar("P")
T = TypeVar("T")
U = TypeVar("U")


def noop_ack() -> None:
    """The ack of a record nobody needs to checkpoint."""


class Incoming:
    """One record from a source: a decoded event, or the dead letter of one that failed.

    ``origin`` says where it came from (``market.jsonl:12``, ``topic[3]@1045``) so
    dead letters and logs can point at it; a source that hands out many records may
    give the place (``topic[3]@``) and the record's ``position`` apart, and the text
    is only made when someone asks (a dead letter). ``depth``: how many reactions
    deep the event already was where it was written (another process's agents made
    it). `ack` acknowledges the record: ``ack`` is called, or, for a record of an
    `OrderedAcks` (``acks`` and its sequence number ``sequence``), that ledger is told
    directly, with no callback made per record.
    """

    __slots__ = ("_acks", "_on_ack", "_place", "_position", "depth", "item", "sequence")

    def __init__(
        self,
        item: AgentEvent | DeadLetter,
        ack: Callable[[], None] = noop_ack,
        origin: str = "",
        depth: int = 0,
        acks: OrderedAcks[Any] | None = None,
        sequence: int = 0,
        position: int | None = None,
    ) -> None:
        self.item = item
        self._on_ack = ack
        self._place = origin
        self.depth = depth
        self._acks = acks
        self.sequence = sequence
        self._position = position

    def ack(self) -> None:
        """The record is handled (or dead-lettered) by everyone who wanted it."""
        acks = self._acks
        if acks is None:
            self._on_ack()
        else:
            acks.ack(self.sequence)

    @property
    def origin(self) -> str:
        """Where the record came from (empty when the source does not say)."""
        if self._position is None:
            return self._place
        return f"{self._place}{self._position}"

    def __repr__(self) -> str:
        return f"Incoming({self.item!r}, origin={self.origin!r}, depth={self.depth})"


causation_depth: ContextVar[int] = ContextVar("reagents_causation_depth", default=0)
"""The causation depth of the event being handled (set by the runner around each
handler and sink write): what a sink carrying it to another process passes on."""


class Ack:
    """Counts who still holds one source record; calls ``on_done`` once the last lets go."""

    __slots__ = ("_on_done", "_pending")

    def __init__(self, on_done: Callable[[], None], holders: int = 1) -> None:
        self._on_done: Callable[[], None] | None = on_done
        self._pending = holders

    @property
    def done(self) -> bool:
        """True once the record has been acknowledged."""
        return self._on_done is None

    def hold(self, holders: int = 1) -> None:
        """Register more work that must finish before the record is acknowledged."""
        if self._on_done is None:
            raise RuntimeError("cannot hold a record that was already acknowledged")
        self._pending += holders

    def release(self) -> None:
        """One holder is done; the last release acknowledges the record."""
        self._pending -= 1
        if self._pending == 0 and self._on_done is not None:
            on_done, self._on_done = self._on_done, None
            on_done()
        elif self._pending < 0:
            raise RuntimeError("an acknowledgement was released more often than held")


class OrderedAcks(Generic[P]):
    """Turns acks that arrive in any order into the highest contiguous acked position.

    Records are registered in source order, each getting the next sequence number:
    `push` one, `extend` a batch (one call, however many), or `track` one and get its
    ack callback. `ack` (one), `ack_range` (a run, in one step when it continues the
    acked prefix) acknowledge by sequence number, and ``on_advance(position)`` is
    called with the last position of the acked prefix whenever that prefix grows. A
    source checkpoints what it is told. Acking twice is harmless. The cost per record
    is O(1): a deque entry and, for out-of-order acks only, a set entry.
    """

    def __init__(self, on_advance: Callable[[P], None]) -> None:
        self._on_advance = on_advance
        self._positions: deque[P] = deque()
        self._first = 0  # sequence number of _positions[0]
        self._next = 0
        self._early: set[int] = set()

    def __len__(self) -> int:
        """Records tracked but not yet part of the acked prefix."""
        return len(self._positions)

    def push(self, position: P) -> int:
        """Register the next record; return its sequence number."""
        sequence = self._next
        self._next = sequence + 1
        self._positions.append(position)
        return sequence

    def extend(self, positions: Sequence[P]) -> int:
        """Register the next records, in order; return the first one's sequence number."""
        first = self._next
        self._next = first + len(positions)
        self._positions.extend(positions)
        return first

    def track(self, position: P) -> Callable[[], None]:
        """Register the next record; return the callback that acknowledges it."""
        return partial(self.ack, self.push(position))

    def ack(self, sequence: int) -> None:
        """Acknowledge the record registered as ``sequence``."""
        first = self._first
        if sequence != first:
            if sequence > first:
                self._early.add(sequence)
            return
        positions, early = self._positions, self._early
        last = positions.popleft()
        first += 1
        while early and first in early:
            early.discard(first)
            last = positions.popleft()
            first += 1
        self._first = first
        self._on_advance(last)

    def ack_range(self, first: int, count: int) -> None:
        """Acknowledge the ``count`` records registered from ``first`` on."""
        start = self._first
        end = first + count
        if count <= 0 or end <= start:
            return  # nothing, or acked already
        if first > start:
            self._early.update(range(first, end))
            return
        positions, early = self._positions, self._early
        last = end - 1
        for _ in range(last - start):  # all but the last in one step...
            positions.popleft()
        if early:
            early.difference_update(range(start, end))
        self._first = last
        self.ack(last)  # ...which goes on through any acked early after it


def ack_runs(acks: OrderedAcks[Any], sequences: Sequence[int]) -> None:
    """Acknowledge ``sequences`` (ascending) in ``acks``, each run of consecutive ones in
    one `OrderedAcks.ack_range`."""
    if not sequences:
        return
    first = last = sequences[0]
    for sequence in sequences[1:]:
        if sequence != last + 1:
            acks.ack_range(first, last - first + 1)
            first = sequence
        last = sequence
    acks.ack_range(first, last - first + 1)


class Receipt(Protocol):
    """One delivery's claim on its source record, as a flow operator sees it."""

    def release(self) -> None:
        """This holder is done with the delivery (handled, dropped or superseded)."""

    def share(self) -> None:
        """One more holder (a value copied into a second window) must release it too."""

    def fail(self, error: Exception) -> None:
        """The delivery cannot go on (a user callback raised on it): dead-letter it."""


class Held(Generic[T]):
    """A value inside a flow with the receipts of the deliveries it was made from."""

    __slots__ = ("receipts", "value")

    def __init__(self, value: T, receipts: tuple[Receipt, ...]) -> None:
        self.value = value
        self.receipts = receipts

    def with_value(self, value: U) -> Held[U]:
        """The same receipts carrying another value (a map, a running state)."""
        return Held(value, self.receipts)

    def release(self) -> None:
        """Release every receipt: the value was dropped, superseded or handled."""
        for receipt in self.receipts:
            receipt.release()

    def fail(self, error: Exception) -> None:
        """Dead-letter every delivery the value was made from."""
        for receipt in self.receipts:
            receipt.fail(error)

    def share(self) -> Held[T]:
        """A copy that holds every receipt once more (for a second window)."""
        for receipt in self.receipts:
            receipt.share()
        return Held(self.value, self.receipts)

    @staticmethod
    def gather(members: Sequence[Held[T]]) -> Held[list[T]]:
        """One value listing ``members``' values and holding all their receipts."""
        if len(members) == 1:
            return Held([members[0].value], members[0].receipts)
        receipts: list[Receipt] = []
        for member in members:
            receipts.extend(member.receipts)
        return Held([member.value for member in members], tuple(receipts))

    def __repr__(self) -> str:
        return f"Held({self.value!r}, receipts={len(self.receipts)})"
