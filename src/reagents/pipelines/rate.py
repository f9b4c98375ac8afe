"""The async `TokenBucket` that enforces an agent's `RateLimit` in its workers.

An agent with a quota (an LLM API, say) waits for a token before each call instead of
failing: the bucket delays, it never drops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from reagents.operators.throttle import RateLimit

__all__ = ["TokenBucket"]

_EPSILON = 1e-9


class TokenBucket:
    """Hands out tokens at a `RateLimit`; `acquire` waits (in FIFO order) when empty."""

    def __init__(
        self,
        rate: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._interval = 1 / rate.tokens_per_second
        self._capacity = float(rate.capacity)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) / self._interval)
        self._updated = now

    async def acquire(self) -> None:
        """Take one token, waiting for it if the bucket is empty."""
        async with self._lock:
            self._refill()
            # Float error may leave a refilled token a hair short of 1: waiting again for
            # that hair would spin on sub-microsecond sleeps, so it counts as whole.
            while self._tokens < 1 - _EPSILON:
                await self._sleep((1 - self._tokens) * self._interval)
                self._refill()
            self._tokens -= 1
