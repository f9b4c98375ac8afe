"""Which clock an agent's flow runs on: `ProcessingTime` or `EventTime`.

Processing time is the event loop's clock: a one-second window closes one second of
loop time after it opened, whether or not events come. Event time is the events' own
``timestamp``: a window closes when the watermark (the newest timestamp seen minus
``lateness``) passes its end, so a replay of yesterday's file groups events as they
happened, at any speed. An event older than the watermark for a window that already
closed is late and is released without being handled.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EventTime", "FlowTime", "ProcessingTime"]


class ProcessingTime(BaseModel):
    """Timers of the flow run on the event loop's clock (the default)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["processing"] = "processing"


class EventTime(BaseModel):
    """Timers of the flow run on event timestamps, waiting ``lateness`` for stragglers.

    With ``idle_timeout`` set, a flow that has had no event for that many seconds of
    loop time moves its watermark on with the loop's clock, so the last windows of a
    live stream that went quiet still close.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["event"] = "event"
    lateness: float = Field(default=0.0, ge=0, description="Seconds to wait for late events.")
    idle_timeout: float | None = Field(default=None, gt=0, description="Seconds, or None.")


FlowTime: TypeAlias = ProcessingTime | EventTime
