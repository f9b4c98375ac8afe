"""`Watermarks`: how many deliveries may be in flight before sources pause."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["Watermarks"]


class Watermarks(BaseModel):
    """Pause pulling sources at ``high`` deliveries in flight; resume at ``low``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    high: int = Field(default=10_000, gt=0)
    low: int = Field(default=5_000, ge=0)

    @model_validator(mode="after")
    def _low_below_high(self) -> Watermarks:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self
