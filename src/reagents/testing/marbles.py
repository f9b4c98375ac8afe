"""Event marbles: observables in virtual time from diagrams whose letters name events.

`cold_events` / `hot_events` turn a marble diagram into an observable on a
`TestScheduler`; `marbles_of` renders recorded output back to a diagram, so operator
tests read like the diagrams in the docstrings::

    scheduler = TestScheduler()
    source = cold_events(scheduler, "a-b-c|", {"a": quote, "b": alert, "c": quote})
    result = scheduler.start(lambda: source.pipe(where_type("quote")))
    assert marbles_of(result.messages, {"a": quote, "c": quote}) == "a---c|"
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reactivex.notification import OnCompleted, OnError, OnNext
from reactivex.observable.marbles import parse
from reactivex.testing import TestScheduler
from reactivex.testing.coldobservable import ColdObservable
from reactivex.testing.hotobservable import HotObservable
from reactivex.testing.marbles import messages_to_records
from reactivex.testing.recorded import Recorded

from reagents.events import AgentEvent

__all__ = ["SUBSCRIBED", "TICK", "cold_events", "hot_events", "marbles_of"]

# Marble time: one character is one virtual second, starting at the scheduler's
# subscription time (200 s for `TestScheduler.start`).
TICK = 1.0
SUBSCRIBED = 200.0


def _messages(diagram: str, events: Mapping[str, AgentEvent], shift: float) -> list[Recorded[Any]]:
    unknown = {c for c in diagram if c.isalnum() and c not in events}
    if unknown:
        raise KeyError(f"marble diagram names events {sorted(unknown)} missing from `events`")
    lookup: dict[str | float, Any] = dict(events.items())
    return messages_to_records(parse(diagram, timespan=TICK, time_shift=shift, lookup=lookup))


def cold_events(
    scheduler: TestScheduler, diagram: str, events: Mapping[str, AgentEvent]
) -> ColdObservable[AgentEvent]:
    """A cold observable emitting the named events at the diagram's times (1 char = 1 s)."""
    return scheduler.create_cold_observable(_messages(diagram, events, 0.0))


def hot_events(
    scheduler: TestScheduler, diagram: str, events: Mapping[str, AgentEvent]
) -> HotObservable[AgentEvent]:
    """A hot observable whose diagram starts at subscription time (200 s) by convention.

    As with any hot source, what it emits at the very instant of subscription (the
    diagram's first character) happens before the subscriber is there: start a hot
    diagram with ``-`` when its first event matters.
    """
    return scheduler.create_hot_observable(_messages(diagram, events, SUBSCRIBED))


def marbles_of(
    messages: Sequence[Recorded[Any]],
    names: Mapping[str, Any],
    start: float = SUBSCRIBED,
) -> str:
    """Render recorded messages as a marble diagram (1 char = 1 s from ``start``).

    Values are named by looking them up in ``names`` (by equality); several values at
    one time are grouped as ``(a,b)``, which, as in `reactivex.testing.marbles`, also
    takes the time of its characters. Raises `KeyError` for a value with no name.
    """
    by_value = [(value, name) for name, value in names.items()]
    slots: dict[int, list[str]] = {}
    for message in messages:
        slot = round((float(message.time) - start) / TICK)
        slots.setdefault(slot, []).append(_symbol(message.value, by_value))
    diagram, position = [], 0
    for slot in sorted(slots):
        if slot < position:
            raise ValueError(f"values at {start + slot}s overlap the group before them")
        symbols = slots[slot]
        drawn = symbols[0] if len(symbols) == 1 else "(" + ",".join(symbols) + ")"
        diagram.append("-" * (slot - position) + drawn)
        position = slot + len(drawn)
    return "".join(diagram)


def _symbol(notification: Any, by_value: list[tuple[Any, str]]) -> str:
    if isinstance(notification, OnCompleted):
        return "|"
    if isinstance(notification, OnError):
        return "#"
    if isinstance(notification, OnNext):
        for value, name in by_value:
            if value == notification.value:
                return name
        raise KeyError(f"no marble name for {notification.value!r}")
    raise TypeError(f"not a notification: {notification!r}")
