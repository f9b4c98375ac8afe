"""The per-partition window of a `KafkaSource`: which partitions to pause, and a warning
when every one stays paused.

A partition is full when ``window.high`` of its records are not yet in its acked
prefix (polled, or handed out and not acknowledged: what a crash re-delivers). A full
partition is paused, which makes aiokafka drop what it fetched ahead for it, so it is
the exception (a record stuck in a long retry), not the way the source is slowed down:
that is by not polling. While only agents' flows hold the records (waiting for more
input), no partition is held back. Nothing here polls; aiokafka is only named for the
type checker.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

from reagents.policies import Watermarks
from reagents.sources.kafka_partitions import Partition

if TYPE_CHECKING:
    from aiokafka.structs import TopicPartition

__all__ = ["STUCK_AFTER", "PartitionWindow", "Pausing", "StuckWatch", "wait_for_either"]

STUCK_AFTER = 60.0  # seconds every partition may stay paused before a warning

_log = logging.getLogger("reagents.sources.kafka")


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


class Pausing(Protocol):
    """What the window needs of a consumer (aiokafka's has it)."""

    def pause(self, *partitions: TopicPartition) -> None:
        """Fetch nothing more for ``partitions`` (what was fetched for them is dropped)."""

    def resume(self, *partitions: TopicPartition) -> None:
        """Fetch for ``partitions`` again."""


class PartitionWindow:
    """Pauses full partitions and resumes them at the low mark; counts the pauses."""

    def __init__(
        self,
        name: str,
        marks: Watermarks,
        flows_wait: Callable[[], Callable[[], bool] | None],
    ) -> None:
        self.marks = marks
        self.pauses = 0
        self._flows_wait = flows_wait
        self._stuck = StuckWatch(name, _log)

    def update(self, consumer: Pausing, parts: Iterable[Partition]) -> int:
        """Pause full partitions, resume those down to the low mark (all of them while
        only agents' flows hold the records): how many records a poll may bring (its
        records may all be of one partition): the least room of an open partition,
        but never less than ``high - low`` (no poll of a few records while one
        partition is nearly full; it may go that far past ``high``), 0 if none is open."""
        high, low = self.marks.high, self.marks.low
        read_on: bool | None = None  # asked only when a partition is full
        room: int | None = None
        total = unacked_all = 0
        for part in parts:
            total += 1
            unacked = len(part.acks)
            unacked_all += unacked
            full = unacked >= high or (part.paused and unacked > low)
            if full:
                if read_on is None:
                    flows_wait = self._flows_wait()
                    read_on = flows_wait is not None and flows_wait()
                full = not read_on
            if full and not part.paused:
                consumer.pause(part.tp)
                part.paused = True
                self.pauses += 1
            elif not full and part.paused:
                consumer.resume(part.tp)
                part.paused = False
            if not full:
                free = high - unacked if unacked < high else high  # read on: a window more
                room = free if room is None else min(room, free)
        if total and room is None:
            self._stuck.paused(unacked_all)
        else:
            self._stuck.since = None
        return 0 if room is None else max(room, high - low)

    def pause_all(self, consumer: Pausing, parts: Iterable[Partition]) -> list[Partition]:
        """Pause every open partition (for a poll that must fetch nothing: a keep-alive);
        the ones paused here, for `resume` right after that poll."""
        paused = [part for part in parts if not part.paused]
        for part in paused:
            consumer.pause(part.tp)
            part.paused = True
        return paused

    def resume(self, consumer: Pausing, parts: Iterable[Partition]) -> None:
        """Resume ``parts`` (paused by `pause_all`, not because they were full)."""
        for part in parts:
            if part.paused and not part.revoked:
                consumer.resume(part.tp)
                part.paused = False


async def wait_for_either(first: asyncio.Event, second: asyncio.Event, timeout: float) -> None:
    """Clear both events, then return once either is set, or after ``timeout`` seconds."""
    first.clear()
    second.clear()
    waits = {asyncio.ensure_future(first.wait()), asyncio.ensure_future(second.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
