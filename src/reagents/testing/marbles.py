"""Event marbles: observables in virtual time from diagrams whose letters name events.

`cold_events` / `hot_events` turn a marble diagram into an observable on a
`TestScheduler`; `marbles_of` renders recorded output back to a diagram, so operator
tests read like the diagrams in the docstrings::

    scheduler = TestScheduler()
    source = cold_events(scheduler, "a-b-c|", {"a": quote, "b": alert, "c": quote})
    result = scheduler.start(lambda: source.pipe(where_type("quote")))
    assert marbles_of(result.messages, {"a": quote, "c": quote}) == "a---c|"

The syntax (each character is one virtual second; spaces only align diagrams):

- ``-`` lets a second pass; a character naming an event emits it, so ``ab`` is two
  events a second apart (as `marbles_of` writes them), never one value ``'ab'``;
- ``|`` completes, ``#`` fails with ``Exception("error")``; only ``-`` may follow them;
- ``(a,b)`` or ``(ab)`` emits a and b at the time of the ``(``, and the group takes
  as many seconds as it has characters, as in `reactivex.testing.marbles`.

Anything else (a name missing from ``events``, an unclosed or nested group, a ``,``
outside a group) raises when the observable is made: `KeyError` for a missing name,
`ValueError` saying where for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reactivex.notification import OnCompleted, OnError, OnNext
from reactivex.testing import ReactiveTest, TestScheduler
from reactivex.testing.coldobservable import ColdObservable
from reactivex.testing.hotobservable import HotObservable
from reactivex.testing.recorded import Recorded

from reagents.events import AgentEvent

__all__ = ["SUBSCRIBED", "TICK", "cold_events", "hot_events", "marbles_of"]

# Marble time: one character is one virtual second, starting at the scheduler's
# subscription time (200 s for `TestScheduler.start`).
TICK = 1.0
SUBSCRIBED = 200.0


_SYNTAX = frozenset("-|#(), ")


def _messages(diagram: str, events: Mapping[str, AgentEvent], shift: float) -> list[Recorded[Any]]:
    bad = sorted(name for name in events if len(name) != 1 or name in _SYNTAX)
    if bad:
        raise ValueError(
            f"marble event names are single characters other than '-|#(), ': {bad} "
            "(adjacent names in a diagram are separate events, a second apart)"
        )
    unknown = {c for c in diagram if c not in _SYNTAX and c not in events}
    if unknown:
        raise KeyError(f"marble diagram names events {sorted(unknown)} missing from `events`")
    return [_record(shift + tick * TICK, symbol, events) for tick, symbol in _symbols(diagram)]


def _symbols(diagram: str) -> list[tuple[int, str]]:
    """(tick, symbol) for every event name, ``|`` and ``#``; `ValueError` if malformed."""

    def error(index: int, problem: str) -> ValueError:
        return ValueError(f"marble diagram {diagram!r}: {problem} at position {index}")

    found: list[tuple[int, str]] = []
    tick, group, stopped = 0, -1, ""  # group: index of the open '(', or -1
    for index, char in enumerate(diagram):
        if char == " ":
            continue
        if char == "(":
            if group >= 0:
                raise error(index, "groups do not nest")
            group, group_tick, size = index, tick, len(found)
        elif char == ")":
            if group < 0:
                raise error(index, "')' closes no group")
            if len(found) == size:
                raise error(group, "an empty group")
            group = -1
        elif char == ",":
            if group < 0:
                raise error(index, "',' outside a group (write (a,b) for a and b at once)")
        elif char == "-":
            if group >= 0:
                raise error(index, "'-' inside a group")
        else:  # an event name, | or #
            if stopped:
                raise error(index, f"{char!r} after {stopped!r}")
            found.append((tick if group < 0 else group_tick, char))
            stopped = char if char in "|#" else ""
        tick += 1
    if group >= 0:
        raise error(group, "'(' never closed")
    return found


def _record(time: float, symbol: str, events: Mapping[str, AgentEvent]) -> Recorded[Any]:
    if symbol == "|":
        return ReactiveTest.on_completed(int(time))
    if symbol == "#":
        return ReactiveTest.on_error(int(time), Exception("error"))
    return ReactiveTest.on_next(int(time), events[symbol])


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
