"""`EventTap`: the hot observable of every routed event, behind `Pipeline.events`.

Users subscribe code of their own to it (a log, a UI, a test's list). That code runs
inside the routing of each event, so one subscriber that raises must not end the run,
nor keep the event from the other subscribers: each observer is called on its own, a
failure is counted and logged (with its traceback the first time an observer fails,
then once every `_LOG_EVERY` failures, so a subscriber failing on every event does not
flood the log), and routing goes on.
"""

from __future__ import annotations

import logging

from reactivex import abc
from reactivex.subject import Subject

from reagents.events import AgentEvent

__all__ = ["EventTap"]

logger = logging.getLogger(__name__)

_LOG_EVERY = 1000


class EventTap(Subject[AgentEvent]):
    """A `Subject` that isolates its subscribers' failures from the routing it taps."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self.failures = 0
        self._failed: dict[int, int] = {}  # id(observer) -> failures

    def _on_next_core(self, value: AgentEvent) -> None:
        with self.lock:
            observers = self.observers.copy()
        for observer in observers:
            try:
                observer.on_next(value)
            except Exception:
                self._failure(observer, value)

    def _failure(self, observer: abc.ObserverBase[AgentEvent], event: AgentEvent) -> None:
        self.failures += 1
        count = self._failed.get(id(observer), 0) + 1
        self._failed[id(observer)] = count
        if count == 1 or count % _LOG_EVERY == 0:
            logger.warning(
                "pipeline %s: a subscriber of pipeline.events raised on event %s (%s); "
                "the event was routed anyway (%d failure(s) of this subscriber so far)",
                *(self.name, event.event_id, event.event_type, count),
                exc_info=True,
            )
