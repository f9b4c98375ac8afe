"""`offer`: one implementation of the overflow policies of a bounded buffer."""

from __future__ import annotations

from collections import deque

import pytest

from reagents.policies import DropReason, Overflow, offer


@pytest.mark.parametrize(
    ("overflow", "kept", "dropped"),
    [
        (Overflow.BLOCK, [1, 2, 3], None),
        (Overflow.DROP_OLDEST, [2, 3], (1, DropReason.DROP_OLDEST)),
        (Overflow.DROP_NEWEST, [1, 2], (3, DropReason.DROP_NEWEST)),
        (Overflow.ERROR, [1, 2], (3, DropReason.OVERFLOW)),
    ],
)
def test_one_more_item_at_capacity(
    overflow: Overflow, kept: list[int], dropped: tuple[int, DropReason] | None
) -> None:
    buffer: deque[int] = deque([1, 2])
    assert offer(buffer, 3, 2, overflow) == dropped
    assert list(buffer) == kept


def test_below_capacity_every_policy_keeps_the_item() -> None:
    for overflow in Overflow:
        buffer: deque[int] = deque([1])
        assert offer(buffer, 2, 2, overflow) is None
        assert list(buffer) == [1, 2]
