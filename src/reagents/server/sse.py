"""Server-Sent Events plumbing: a bounded per-client queue on `Pipeline.events`, and framing.

`ClientQueue` subscribes to the pipeline's hot event observable for one client. Its
``on_next`` runs inside the routing of every event, so it does as little as it can:
test the client's filter, append to a deque, wake the writer. When the client falls
``limit`` events behind it is dropped: the queue is emptied, the subscription
disposed, and the stream ends with an ``error`` message saying why. Memory per client
is therefore bounded by ``limit`` events, however slow or stuck the client is.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import deque
from typing import Any

from reactivex import Observable
from reactivex.abc import DisposableBase

from reagents.events import AgentEvent
from reagents.operators.filters import Filter

__all__ = ["ClientQueue", "sse_comment", "sse_message"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # the SSE line ends (not Unicode's others)


class ClientQueue:
    """The events one stream client has not been sent yet (at most ``limit``)."""

    def __init__(self, events: Observable[AgentEvent], match: Filter | None, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self.limit = limit
        self.overflowed = False
        self.filter_errors = 0
        self._match = match
        self._queue: deque[AgentEvent] = deque()
        self._ready = asyncio.Event()
        self._subscription: DisposableBase | None = events.subscribe(on_next=self._on_next)

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def open(self) -> bool:
        """True while this client is subscribed to the pipeline's events."""
        return self._subscription is not None

    def _on_next(self, event: AgentEvent) -> None:
        if self._subscription is None:
            return
        if self._match is not None:
            try:
                if not self._match.predicate(event):
                    return
            except Exception:  # a filter failing on an event counts as no match
                self.filter_errors += 1
                return
        if len(self._queue) >= self.limit:
            self.overflowed = True
            self._queue.clear()  # the client is dropped: free its backlog at once
            self.close()
        else:
            self._queue.append(event)
        self._ready.set()

    async def take(self, timeout: float) -> list[AgentEvent]:
        """The queued events (oldest first), waiting up to ``timeout`` s for one."""
        if not self._queue and not self.overflowed:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        taken = list(self._queue)
        self._queue.clear()
        return taken

    def close(self) -> None:
        """Unsubscribe from the pipeline's events (twice is harmless)."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()


def sse_message(event: str, data: str | dict[str, Any], id: str | None = None) -> bytes:
    """One SSE message; ``data`` is text (each line becomes a ``data:`` line) or a dict
    to send as JSON."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    head = f"event: {event}\n" + (f"id: {id}\n" if id else "")
    lines = "".join(f"data: {line}\n" for line in _LINE_BREAK.split(text))
    return f"{head}{lines}\n".encode()


def sse_comment(text: str) -> bytes:
    """An SSE comment line: clients ignore it, proxies see traffic (a heartbeat)."""
    return f": {text}\n\n".encode()
