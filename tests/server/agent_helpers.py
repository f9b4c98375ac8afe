"""Shared pieces of the /agents tests: a source that waits for its cue, polling, bodies."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from reagents.delivery import Incoming
from reagents.events import AgentEvent
from reagents.sources.base import Source

__all__ = ["CuedSource", "eventually", "pull_body", "webhook_body"]


class CuedSource(Source):
    """Yields its events once ``cue`` is set (agents registered over HTTP by then); each
    ack is recorded, and ``early`` (asked at that moment) says whether it came too soon."""

    pausable = False

    def __init__(
        self, events: Sequence[AgentEvent], early: Callable[[str], bool] = lambda _: False
    ) -> None:
        self.name = "cued"
        self.events = list(events)
        self.cue = asyncio.Event()
        self.acked: list[str] = []
        self.early: list[str] = []
        self._early = early

    async def batches(self) -> AsyncGenerator[Sequence[Incoming], None]:
        await self.cue.wait()
        yield [Incoming(e, ack=self._acker(e.event_id)) for e in self.events]

    def _acker(self, event_id: str) -> Callable[[], None]:
        def ack() -> None:
            self.acked.append(event_id)
            if self._early(event_id):
                self.early.append(event_id)

        return ack


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a poll every 10 ms), or fail after ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


def webhook_body(url: str, retries: int = 3, **changes: Any) -> dict[str, Any]:
    """A webhook registration with fast, exact retries."""
    return {
        "subscription": "type = order",
        "retry": {"max_retries": retries, "initial": 0.01, "jitter": 0},
        "delivery": {"mode": "webhook", "url": url, "timeout": 5},
        **changes,
    }


def pull_body(lease: float = 30.0, retries: int = 3, **changes: Any) -> dict[str, Any]:
    """A pull registration with fast, exact retries."""
    return {
        "subscription": "type = order",
        "retry": {"max_retries": retries, "initial": 0.01, "jitter": 0},
        "delivery": {"mode": "pull", "lease_seconds": lease},
        **changes,
    }
