"""`PriorityFifo`: most urgent first, first in first out among equals."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reagents import AgentEvent
from reagents.policies import PriorityFifo, priority_of


def test_most_urgent_first_then_arrival_order() -> None:
    queue: PriorityFifo[tuple[int, str]] = PriorityFifo(key=lambda item: item[0])
    for item in [(5, "a"), (9, "b"), (1, "c"), (5, "d"), (1, "e")]:
        queue.push(item)
    order = [(1, "c"), (1, "e"), (5, "a"), (5, "d"), (9, "b")]
    assert list(queue) == order  # iterating only looks
    assert [queue.pop() for _ in range(len(queue))] == order
    assert not queue


def test_drain_empties_in_release_order() -> None:
    queue: PriorityFifo[AgentEvent] = PriorityFifo()
    low, high = AgentEvent(event_type="x", priority=9), AgentEvent(event_type="x", priority=1)
    queue.push(low)
    queue.push(high)
    assert queue.drain() == [high, low]
    assert len(queue) == 0
    with pytest.raises(IndexError):
        queue.pop()


def test_an_item_without_priority_is_refused_with_a_clear_error() -> None:
    queue: PriorityFifo[object] = PriorityFifo()
    with pytest.raises(TypeError, match="no 'priority' attribute; pass key="):
        queue.push(object())
    assert priority_of(AgentEvent(event_type="x", priority=3)) == 3


@given(st.lists(st.integers(min_value=1, max_value=10)))
def test_release_order_is_a_stable_sort_by_priority(priorities: list[int]) -> None:
    queue: PriorityFifo[tuple[int, int]] = PriorityFifo(key=lambda item: item[0])
    for arrival, priority in enumerate(priorities):
        queue.push((priority, arrival))
    released = [queue.pop() for _ in priorities]
    assert released == sorted(((p, n) for n, p in enumerate(priorities)), key=lambda i: i[0])
