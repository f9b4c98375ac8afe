"""`RateLimit` and the one `TokenBucket` that enforces it.

The bucket is pure arithmetic on a clock the caller passes in: the ``throttle``
operator asks it with the Rx scheduler's time, an agent's runner with the event
loop's, so both pace alike and both run in virtual time under test.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RateLimit", "TokenBucket"]

# Float drift may leave a refilled token a hair short of 1; it counts as whole, so
# 3 tokens/s really yields 3 items/s and a waiter never spins on a sub-µs wait.
_EPSILON = 1e-9
# Waits are rounded up to whole microseconds (the clocks' resolution), so a wait
# always yields a token; the division is rounded first so float noise never adds one.
_TICKS_PER_SECOND = 1_000_000


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


class TokenBucket:
    """A full bucket of ``rate.capacity`` tokens refilling at ``rate.tokens_per_second``.

    ``take(now)`` takes a token and returns 0.0, or returns how many seconds to wait
    before one is there (taking nothing). Times are seconds on any monotonic clock.
    """

    __slots__ = ("_capacity", "_refill", "_tokens", "_updated")

    def __init__(self, rate: RateLimit, now: float) -> None:
        self._capacity = float(rate.capacity)
        self._refill = rate.tokens_per_second
        self._tokens = self._capacity
        self._updated = now

    def take(self, now: float) -> float:
        """Take one token at time ``now``; else the seconds until one is available."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._refill)
        self._updated = max(now, self._updated)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens -= 1.0
            return 0.0
        wait = (1.0 - self._tokens) / self._refill
        ticks = math.ceil(round(wait * _TICKS_PER_SECOND, 3))
        return max(1, ticks) / _TICKS_PER_SECOND
