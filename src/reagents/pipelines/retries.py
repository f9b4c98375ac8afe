"""An agent's failed work items: whether and when to try again, and the ones waiting.

`retry_delay` counts a failed attempt and decides: not at all when the agent's
``no_retry`` matches the error or the attempts are spent (the agent's backoff, and for
an event its own ``max_retries``), else after the backoff's delay. `Retries` holds the
items waiting out that delay on the loop's timers, off the queue and holding no worker.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from reagents.events import utc_now
from reagents.pipelines.deliveries import Delivery, WorkItem
from reagents.sinks.agent import Agent

__all__ = ["Retries", "retry_delay"]


def retry_delay(
    agent: Agent, item: WorkItem, error: Exception, rng: random.Random
) -> tuple[float | None, str | None]:
    """Count a failed attempt on ``item``: ``(delay, None)`` to try again after
    ``delay`` seconds, or ``(None, note)`` to give up (``note`` says why, if special)."""
    item.attempts += 1
    if item.first_failure_at is None:
        item.first_failure_at = utc_now()
    permanent = agent.not_retried(error)
    if permanent is not None:
        return None, permanent
    limit = agent.backoff.max_retries
    if isinstance(item, Delivery):
        limit = min(limit, item.event.max_retries)
    if item.attempts <= limit:
        return agent.backoff.delay(item.attempts, rng), None
    return None, None


class Retries:
    """Work items waiting for their next attempt; each is handed to ``requeue`` on time
    (a delivery with its event's ``retry_count`` raised)."""

    __slots__ = ("_handles", "_requeue")

    def __init__(self, requeue: Callable[[WorkItem], None]) -> None:
        self._requeue = requeue
        self._handles: set[asyncio.TimerHandle] = set()

    def __len__(self) -> int:
        return len(self._handles)

    def schedule(self, item: WorkItem, delay: float) -> None:
        """Requeue ``item`` in ``delay`` seconds (on the running loop)."""

        def retry() -> None:
            self._handles.discard(handle)
            if isinstance(item, Delivery):
                item.event = item.event.with_retry()
            self._requeue(item)

        handle = asyncio.get_running_loop().call_later(delay, retry)
        self._handles.add(handle)

    def cancel(self) -> None:
        """Drop every waiting item (not acknowledged: the source delivers it again)."""
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
