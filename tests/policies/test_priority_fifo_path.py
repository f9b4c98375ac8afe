"""`PriorityFifo`'s deque path: the same order as a heap of every item, paid less.

While one priority is queued, items wait in a deque; the reference below is the heap
the queue always used before (``(key * aging + arrival, arrival, item)`` for every
push). Any sequence of pushes, pops, drains and looks must give the same answers.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reagents.policies import PriorityFifo

Item = tuple[int, int]  # (priority, arrival)


class HeapOnly:
    """The previous `PriorityFifo`: one heap entry per item, whatever the priorities."""

    def __init__(self, aging: int | None) -> None:
        self._aging = aging
        self._heap: list[tuple[Any, int, Item]] = []
        self._arrival = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: Item) -> None:
        arrival = next(self._arrival)
        key: int = item[0]
        if self._aging is not None:
            key = key * self._aging + arrival
        heapq.heappush(self._heap, (key, arrival, item))

    def pop(self) -> Item:
        return heapq.heappop(self._heap)[2]

    def look(self) -> list[Item]:
        return [entry[2] for entry in sorted(self._heap)]

    def drain(self) -> list[Item]:
        items = self.look()
        self._heap.clear()
        return items


# A push of a priority, a pop ("pop"), a look at the waiting items ("look") or a drain.
# Runs of one priority are likely (few levels), so the deque path and the moves into
# the heap and back are all exercised.
_STEP = st.one_of(
    st.integers(min_value=1, max_value=3),
    st.sampled_from([1, 10]),
    st.just("pop"),
    st.just("pop"),
    st.just("look"),
    st.just("drain"),
)


@settings(max_examples=400)
@given(
    st.lists(_STEP, max_size=200),
    st.one_of(st.none(), st.integers(min_value=1, max_value=5), st.just(1000)),
)
def test_same_order_as_one_heap_for_any_pushes_and_pops(
    steps: list[int | str], aging: int | None
) -> None:
    queue: PriorityFifo[Item] = PriorityFifo(key=lambda item: item[0], aging=aging)
    reference = HeapOnly(aging)
    for arrival, step in enumerate(steps):
        if step == "pop":
            if len(reference):
                assert queue.pop() == reference.pop()
        elif step == "look":
            assert list(queue) == reference.look()
        elif step == "drain":
            assert queue.drain() == reference.drain()
        else:
            assert isinstance(step, int)
            queue.push((step, arrival))
            reference.push((step, arrival))
        assert len(queue) == len(reference)
        assert bool(queue) == bool(len(reference))
    assert [queue.pop() for _ in range(len(queue))] == reference.drain()
    assert not queue


def test_one_priority_waits_in_arrival_order_without_heap_entries() -> None:
    queue: PriorityFifo[Item] = PriorityFifo(key=lambda item: item[0], aging=1000)
    for arrival in range(100):
        queue.push((5, arrival))
    assert not queue._heap  # the deque path: no (order, arrival, item) tuples
    assert [queue.pop() for _ in range(100)] == [(5, n) for n in range(100)]


def test_a_second_priority_moves_the_waiting_items_into_the_heap_and_back() -> None:
    queue: PriorityFifo[Item] = PriorityFifo(key=lambda item: item[0], aging=2)
    for item in [(5, 0), (5, 1), (5, 2), (1, 3), (5, 4)]:
        queue.push(item)
    assert len(queue._heap) == 5
    # (5, 0) has order 10, (1, 3) has 5: the urgent one first, then arrival order
    assert [queue.pop() for _ in range(5)] == [(1, 3), (5, 0), (5, 1), (5, 2), (5, 4)]
    queue.push((9, 5))
    queue.push((9, 6))
    assert not queue._heap  # empty again: back on the deque
    assert queue.drain() == [(9, 5), (9, 6)]


def test_a_failing_key_adds_nothing() -> None:
    def key(item: Item) -> int:
        if item[0] < 0:
            raise ValueError("no priority")
        return item[0]

    queue: PriorityFifo[Item] = PriorityFifo(key=key)
    queue.push((3, 0))
    with pytest.raises(ValueError, match="no priority"):
        queue.push((-1, 1))
    queue.push((3, 2))
    assert queue.drain() == [(3, 0), (3, 2)]
