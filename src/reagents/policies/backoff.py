"""`Backoff`: how many times to retry, and how long to wait before each retry.

The one backoff schedule of reagents: the agent runner (retries of an event or of a
flow's output), sagas and workflows all ask `Backoff.delay`.
"""

from __future__ import annotations

import random
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Backoff"]


class Backoff(BaseModel):
    """Exponential backoff policy: how many retries, and how long to wait before each.

    The delay before retry ``n`` (1-based) is ``initial * multiplier ** (n - 1)``,
    capped at ``max_delay``. Jitter is proportional: with ``jitter = j`` the delay is
    scaled by a uniform factor in ``(1 - j, 1]``, so ``j = 0`` is deterministic and
    ``j = 1`` is "full jitter" (anywhere in ``(0, delay]``). Jitter only ever shortens
    a delay, so ``max_delay`` stays a hard upper bound. Times are in seconds.

    Jitter is on by default (``0.5``: each delay lies in ``(delay / 2, delay]``), so
    many events that failed together — a dependency went down — do not come back
    together and knock it over again. Pass ``jitter=0`` for exact delays (or a seeded
    ``random.Random`` to `delay` for repeatable ones).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_retries: int = Field(default=3, ge=0, description="Retries after the first attempt.")
    initial: float = Field(default=0.1, gt=0, description="Delay before the first retry (s).")
    multiplier: float = Field(default=2.0, ge=1, description="Growth factor per retry.")
    max_delay: float = Field(default=30.0, gt=0, description="Upper bound of any delay (s).")
    jitter: float = Field(default=0.5, ge=0, le=1, description="Randomised fraction.")

    @model_validator(mode="after")
    def _max_delay_covers_initial(self) -> Self:
        if self.max_delay < self.initial:
            raise ValueError(f"max_delay ({self.max_delay}) must be >= initial ({self.initial})")
        return self

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (1 is the first retry).

        ``rng`` supplies the jitter; the module-level generator is used when omitted.
        """
        if attempt < 1:
            raise ValueError(f"attempt must be >= 1 (1 is the first retry), got {attempt}")
        try:
            base = min(self.initial * self.multiplier ** (attempt - 1), self.max_delay)
        except OverflowError:
            base = self.max_delay
        if self.jitter == 0.0:
            return base
        draw = rng.random() if rng is not None else random.random()
        return base * (1.0 - self.jitter * draw)
