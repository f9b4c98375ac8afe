"""Delay items to a token-bucket rate; never drop them.

``throttle(rate=2, per=1.0, burst=2)``: the bucket holds ``burst`` tokens and refills
at ``rate / per`` tokens a second. An item that finds a token passes at once; otherwise
it waits in a FIFO queue until one is available. One column is 0.5 s::

    source:  -(abcde)|
    result:  -(ab)c-d-e|      (a, b at t; c at t+0.5; d at t+1.0; e at t+1.5)

Completion waits until the queue is empty. An error propagates at once and the items
still queued are discarded (they are not emitted after the error). Time comes from
``scheduler``, else the subscribe-time scheduler, else the ``TimeoutScheduler``.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, SerialDisposable
from reactivex.scheduler import TimeoutScheduler

_T = TypeVar("_T")
# Tolerance for float drift in the token count, so 3 tokens/s really yields 3 items/s.
_EPSILON = 1e-9


class RateLimit(BaseModel):
    """Token-bucket policy: ``rate`` items per ``per`` seconds, bursts of up to ``burst``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rate: int = Field(ge=1, description="Items allowed per period.")
    per: float = Field(default=1.0, gt=0, description="Length of the period (s).")
    burst: int | None = Field(default=None, ge=1, description="Bucket size; default rate.")

    @property
    def capacity(self) -> int:
        """Tokens the bucket holds when full."""
        return self.rate if self.burst is None else self.burst

    @property
    def tokens_per_second(self) -> float:
        """Refill speed of the bucket."""
        return self.rate / self.per


def throttle(
    rate: int,
    per: float = 1.0,
    burst: int | None = None,
    scheduler: abc.SchedulerBase | None = None,
) -> Callable[[Observable[_T]], Observable[_T]]:
    """Pace items to ``rate`` per ``per`` seconds (bursts of ``burst``), delaying, never dropping.

    The queue of delayed items is unbounded; a fast, endless source needs backpressure
    upstream (``bounded_buffer`` or a pausable source).

    Raises:
        ValueError: at call time, when ``rate < 1``, ``per <= 0`` or ``burst < 1``.
    """
    limit = RateLimit(rate=rate, per=per, burst=burst)
    capacity = float(limit.capacity)
    refill = limit.tokens_per_second

    def _throttle(source: Observable[_T]) -> Observable[_T]:
        def subscribe(
            observer: abc.ObserverBase[_T],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            _scheduler = scheduler or scheduler_ or TimeoutScheduler.singleton()
            lock = threading.RLock()
            queue: deque[_T] = deque()
            timer = SerialDisposable()
            tokens = capacity
            last = _scheduler.now
            done = False

            def top_up() -> None:
                nonlocal tokens, last
                now = _scheduler.now
                elapsed = max(0.0, (now - last).total_seconds())
                tokens = min(capacity, tokens + elapsed * refill)
                last = now

            def release() -> None:
                # Called under the lock with fresh tokens: emit what the bucket allows,
                # then wait for the next token, or finish if the source is done.
                nonlocal tokens
                while queue and tokens >= 1.0 - _EPSILON:
                    tokens -= 1.0
                    observer.on_next(queue.popleft())
                if queue:
                    # Round up to the clock's resolution (1 µs) so the wait always
                    # yields a whole token and the timer never spins at the same instant.
                    wait = math.ceil((1.0 - tokens) / refill * 1e6)
                    timer.disposable = _scheduler.schedule_relative(
                        timedelta(microseconds=max(1, wait)), on_timer
                    )
                elif done:
                    observer.on_completed()

            def on_timer(_: abc.SchedulerBase, __: Any = None) -> None:
                with lock:
                    top_up()
                    release()

            def on_next(item: _T) -> None:
                with lock:
                    queue.append(item)
                    if len(queue) == 1:  # otherwise a timer is already waiting
                        top_up()
                        release()

            def on_error(error: Exception) -> None:
                with lock:
                    queue.clear()
                    timer.dispose()
                    observer.on_error(error)

            def on_completed() -> None:
                nonlocal done
                with lock:
                    done = True
                    if not queue:
                        observer.on_completed()

            subscription = source.subscribe(on_next, on_error, on_completed, scheduler=scheduler_)
            return CompositeDisposable(subscription, timer)

        return Observable(subscribe)

    return _throttle


__all__ = ["RateLimit", "throttle"]
