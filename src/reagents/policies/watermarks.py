"""`Watermarks`: how many deliveries may be in flight before sources pause."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Watermarks"]


class Watermarks(BaseModel):
    """Pause pulling sources at ``high`` deliveries in flight; resume at ``low``.

    What waits in flight waits in a queue: behind an agent handling ``r`` events a
    second, the newest of ``high`` queued events waits about ``high / r`` seconds. The
    defaults (1,000 / 500) keep that near a second for an agent at 1,000/s while
    sources still read in batches; raise them for fast agents and bursty input, lower
    them for slow (model-backed) agents.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    high: int = Field(default=1_000, gt=0)
    low: int = Field(default=500, ge=0)

    @model_validator(mode="after")
    def _low_below_high(self) -> Watermarks:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self
