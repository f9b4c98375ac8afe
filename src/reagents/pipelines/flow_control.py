"""In-flight accounting with high/low water marks, so memory stays bounded under load.

Every delivery of an event to an agent or sink counts as in flight until it is
handled or dead-lettered. Sources are pulled only while the count is below the high
mark, and once it has gone above, only again after it fell below the low mark.
"""

from __future__ import annotations

import asyncio

from reagents.policies import Watermarks

__all__ = ["FlowControl"]


class FlowControl:
    """Counts deliveries in flight; lets sources wait for room and the pipeline for idle."""

    def __init__(self, marks: Watermarks) -> None:
        self.marks = marks
        self.in_flight = 0
        self.peak = 0
        self.pauses = 0
        self._room = asyncio.Event()
        self._room.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._watchers: list[asyncio.Future[None]] = []

    def acquire(self, count: int = 1) -> None:
        """``count`` more deliveries are in flight."""
        self.in_flight += count
        if self.in_flight > self.peak:
            self.peak = self.in_flight
        self._idle.clear()
        if self.in_flight >= self.marks.high and self._room.is_set():
            self._room.clear()
            self.pauses += 1
        if self._watchers:
            self._wake()

    def release(self, count: int = 1) -> None:
        """``count`` deliveries finished (handled or dead-lettered)."""
        self.in_flight -= count
        if self.in_flight <= self.marks.low:
            self._room.set()
        if self.in_flight == 0:
            self._idle.set()
        if self._watchers:
            self._wake()

    def _wake(self) -> None:
        for watcher in self._watchers:
            if not watcher.done():
                watcher.set_result(None)
        self._watchers.clear()

    def changed(self) -> asyncio.Future[None]:
        """A future resolved at the next acquire or release (registered at once, so no
        change between this call and the await is missed)."""
        watcher: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._watchers.append(watcher)
        return watcher

    @property
    def has_room(self) -> bool:
        """False from the high mark until the count falls back to the low mark."""
        return self._room.is_set()

    async def wait_for_room(self) -> None:
        """Return once sources may be pulled again."""
        await self._room.wait()

    async def wait_idle(self) -> None:
        """Return once nothing is in flight."""
        await self._idle.wait()

    @property
    def idle(self) -> bool:
        """True when nothing is in flight."""
        return self.in_flight == 0
