"""`BudgetLimits`: the validated limits of a `ModelBudget`, and their token buckets."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reagents.policies.rate import TokenBucket

__all__ = ["BudgetLimits"]


class BudgetLimits(BaseModel):
    """The validated limits of a `ModelBudget`; ``None`` means no limit of that kind.

    The buckets hold ``burst_seconds`` worth of each per-minute limit (at least one
    request, one token), not a whole minute: providers enforce a per-minute limit over
    shorter windows too, so 600 requests/min means about 10 a second, not 600 at once.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    requests_per_minute: float | None = Field(default=None, gt=0, description="Calls/min.")
    tokens_per_minute: float | None = Field(default=None, gt=0, description="Tokens/min.")
    max_concurrent_calls: int | None = Field(default=None, ge=1, description="Calls in flight.")
    jitter: float = Field(default=0.1, ge=0, le=1, description="Extra pause, x its length.")
    burst_seconds: float = Field(default=1.0, gt=0, le=60, description="Bucket size (s).")

    @property
    def unlimited(self) -> bool:
        """True when no limit is set: the budget then only counts and honours pauses."""
        return (
            self.requests_per_minute is None
            and self.tokens_per_minute is None
            and self.max_concurrent_calls is None
        )

    def bucket(self, per_minute: float | None, now: float) -> TokenBucket | None:
        """The bucket of one per-minute limit, or None when that limit is not set."""
        if per_minute is None:
            return None
        capacity = max(1.0, per_minute * self.burst_seconds / 60.0)
        return TokenBucket.refilling(per_minute / 60.0, capacity, now)
