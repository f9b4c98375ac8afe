"""The schedulers agents' flows run on: the event loop's clock, or event time.

`LoopScheduler` is processing time: ``now`` is the loop's clock (shifted to read as
the wall clock in UTC), timers are the loop's own timer handles (no asyncio Task per timer, no queue
between threads). Under a virtual-time loop (looptime) flows therefore run in virtual
time with everything else. `EventClock` is event time: a virtual clock that the flow
stage moves to each event's timestamp minus the allowed lateness (the watermark); the
timers due by then fire before the event goes in.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any, TypeVar

from reactivex import abc, typing
from reactivex.disposable import CompositeDisposable, Disposable, SingleAssignmentDisposable
from reactivex.scheduler import HistoricalScheduler
from reactivex.scheduler.periodicscheduler import PeriodicScheduler

from reagents.delivery import Held
from reagents.pipelines.deliveries import Delivery

__all__ = ["EventClock", "LoopScheduler"]

_TICK = timedelta(microseconds=1)

_TState = TypeVar("_TState")


class LoopScheduler(PeriodicScheduler):
    """Processing time: the running event loop's clock and timer handles."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._loop = loop
        # Windows align to the wall clock (a minute window closes at :00); on a virtual
        # loop (looptime) to the loop's own clock, so tests see the same times each run.
        virtual = bool(getattr(loop, "looptime_on", False))
        self._offset = 0.0 if virtual else time.time() - loop.time()

    @property
    def now(self) -> datetime:
        return self.to_datetime(self._loop.time() + self._offset)

    def schedule(
        self, action: typing.ScheduledAction[_TState], state: _TState | None = None
    ) -> abc.DisposableBase:
        return self._at(self._loop.time(), action, state)

    def schedule_relative(
        self,
        duetime: typing.RelativeTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self._at(self._loop.time() + max(0.0, self.to_seconds(duetime)), action, state)

    def schedule_absolute(
        self,
        duetime: typing.AbsoluteTime,
        action: typing.ScheduledAction[_TState],
        state: _TState | None = None,
    ) -> abc.DisposableBase:
        return self._at(self.to_seconds(self.to_datetime(duetime)) - self._offset, action, state)

    def _at(
        self, when: float, action: typing.ScheduledAction[_TState], state: _TState | None
    ) -> abc.DisposableBase:
        inner = SingleAssignmentDisposable()

        def run() -> None:
            inner.disposable = self.invoke_action(action, state=state)

        handle = self._loop.call_at(when, run)
        return CompositeDisposable(inner, Disposable(handle.cancel))


class EventClock(HistoricalScheduler):
    """Event time: the watermark is the newest event timestamp minus ``lateness``."""

    def __init__(self, lateness: float) -> None:
        super().__init__()
        self._lateness = timedelta(seconds=lateness)
        self._started = False

    def time_of(self, held: Held[Any]) -> datetime:
        """A value's time: the newest timestamp among the events it was made from, not
        counting joined side events (a side stream ahead never makes a value late)."""
        times = [r.event.timestamp for r in held.receipts if isinstance(r, Delivery) and not r.side]
        return max(times) if times else self.now

    def observe(self, timestamp: datetime) -> None:
        """An event of ``timestamp`` arrived: move the watermark on, firing due timers."""
        mark = timestamp - self._lateness
        if not self._started:
            self._started = True
            self._clock = mark  # the first event sets the start; earlier timers: none
        if mark > self.now:
            self._advance(mark)

    def run_due(self) -> None:
        """Fire every pending timer in time order (the end of the input: no later
        event will move the watermark); the clock stops at the last one."""
        while self._queue:
            due = self._queue.peek().duetime
            self._advance(max(self.to_datetime(due), self.now + _TICK))

    def _advance(self, to: datetime) -> None:
        # Not reactivex's start(): it deadlocks past 100 timers due at one instant.
        try:
            self.advance_to(to)
        finally:
            self.stop()  # a timer that raised must not leave the clock marked running

    def advance_by_seconds(self, seconds: float) -> None:
        """Move the watermark on by ``seconds`` (a quiet stream's idle timeout)."""
        if self._started and seconds > 0:
            self._advance(self.now + timedelta(seconds=seconds))
