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

    ``take(now, amount)`` takes several at once (a model call's tokens). An amount larger
    than the bucket waits for a full bucket and leaves it in debt, so it is served
    instead of waiting forever, and the callers after it wait the debt off: the long-run
    rate holds. ``charge`` settles a correction after the fact (debt or refund).
    """

    __slots__ = ("_capacity", "_refill", "_tokens", "_updated")

    def __init__(self, rate: RateLimit, now: float) -> None:
        self._start(float(rate.capacity), rate.tokens_per_second, now)

    @classmethod
    def refilling(cls, tokens_per_second: float, capacity: float, now: float) -> TokenBucket:
        """A full bucket of ``capacity`` tokens (any positive float) refilling at that speed."""
        if not (tokens_per_second > 0 and capacity > 0):
            raise ValueError(
                f"a bucket needs a positive refill and capacity, got {tokens_per_second}/s"
                f" and {capacity}"
            )
        bucket = cls.__new__(cls)
        bucket._start(float(capacity), float(tokens_per_second), now)
        return bucket

    def _start(self, capacity: float, refill: float, now: float) -> None:
        self._capacity = capacity
        self._refill = refill
        self._tokens = capacity
        self._updated = now

    @property
    def capacity(self) -> float:
        """Tokens the bucket holds when full."""
        return self._capacity

    def level(self, now: float) -> float:
        """Tokens in the bucket at ``now`` (negative while in debt)."""
        self._advance(now)
        return self._tokens

    def wait(self, now: float, amount: float = 1.0) -> float:
        """Seconds until ``amount`` tokens can be taken (0.0 if now), taking nothing."""
        self._advance(now)
        need = min(amount, self._capacity)
        if self._tokens >= need - _EPSILON:
            return 0.0
        wait = (need - self._tokens) / self._refill
        ticks = math.ceil(round(wait * _TICKS_PER_SECOND, 3))
        return max(1, ticks) / _TICKS_PER_SECOND

    def take(self, now: float, amount: float = 1.0) -> float:
        """Take ``amount`` tokens at time ``now``; else the seconds until they are there."""
        wait = self.wait(now, amount)
        if wait == 0.0:
            self._tokens -= amount
        return wait

    def charge(self, now: float, amount: float) -> None:
        """Take ``amount`` unconditionally (into debt if need be); a negative one refunds."""
        self._advance(now)
        self._tokens = min(self._capacity, self._tokens - amount)

    def _advance(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._refill)
        self._updated = max(now, self._updated)
