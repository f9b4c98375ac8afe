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


def test_strict_priority_starves_a_waiting_low_priority_item() -> None:
    queue: PriorityFifo[tuple[int, int]] = PriorityFifo(key=lambda item: item[0])
    queue.push((10, 0))
    served = []
    for arrival in range(1, 10_000):  # urgent work keeps coming, one served per arrival
        queue.push((1, arrival))
        served.append(queue.pop())
    assert (10, 0) not in served


def test_with_aging_a_waiting_item_is_passed_by_at_most_its_levels_times_aging() -> None:
    queue: PriorityFifo[tuple[int, int]] = PriorityFifo(key=lambda item: item[0], aging=100)
    queue.push((10, 0))
    served = []
    for arrival in range(1, 2_000):
        queue.push((1, arrival))
        served.append(queue.pop())
    overtaken_by = served.index((10, 0))
    assert overtaken_by == 9 * 100 - 1  # (10 - 1) levels x 100 arrivals each


def test_aging_must_count_arrivals() -> None:
    with pytest.raises(ValueError, match="aging must be a number of arrivals >= 1"):
        PriorityFifo(aging=0)


@given(
    st.lists(st.one_of(st.integers(min_value=1, max_value=10), st.none()), max_size=300),
    st.integers(min_value=1, max_value=20),
)
def test_aging_bounds_how_many_later_arrivals_pass_an_item(
    steps: list[int | None], aging: int
) -> None:
    """Pushes (a priority) and pops (None) in any order: a later arrival is served
    before a waiting item only if it came fewer than (their levels apart) x aging
    pushes after it."""
    queue: PriorityFifo[tuple[int, int]] = PriorityFifo(key=lambda item: item[0], aging=aging)
    arrivals, released = 0, []
    for step in steps:
        if step is None:
            if queue:
                released.append(queue.pop())
        else:
            queue.push((step, arrivals))
            arrivals += 1
    released.extend(queue.drain())
    for position, (later_priority, later) in enumerate(released):
        for priority, arrival in released[position + 1 :]:
            if arrival < later:  # it waited while the later arrival was served
                assert later - arrival < (priority - later_priority) * aging
