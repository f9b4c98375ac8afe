"""`Ack` (who still holds a record) and `OrderedAcks` (out-of-order acks → checkpoints)."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reagents.delivery import Ack, Incoming, OrderedAcks, noop_ack
from reagents.events import AgentEvent


class Calls:
    """Counts how often it was called."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


# -- OrderedAcks ---------------------------------------------------------------------------


def test_out_of_order_acks_advance_to_the_highest_contiguous_position() -> None:
    advanced: list[str] = []
    acks: OrderedAcks[str] = OrderedAcks(advanced.append)
    a, b, c, d, e = (acks.track(position) for position in "abcde")

    d()
    b()
    assert advanced == []  # a still open: nothing is contiguous
    a()
    assert advanced == ["b"]  # a and b, not d: c is still open
    c()
    assert advanced == ["b", "d"]  # c closes the gap up to the early d
    e()
    assert advanced == ["b", "d", "e"]


def test_len_counts_the_records_not_yet_in_the_acked_prefix() -> None:
    acks: OrderedAcks[int] = OrderedAcks(lambda position: None)
    assert len(acks) == 0
    callbacks = [acks.track(offset) for offset in range(4)]
    assert len(acks) == 4
    callbacks[2]()
    assert len(acks) == 4  # acked early, but still behind an open record
    callbacks[0]()
    assert len(acks) == 3
    callbacks[1]()
    assert len(acks) == 1
    callbacks[3]()
    assert len(acks) == 0


def test_acking_twice_is_harmless() -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    first, second, third = (acks.track(offset) for offset in (10, 11, 12))

    third()
    third()  # twice while early
    first()
    first()  # twice once in the prefix
    assert advanced == [10]
    assert len(acks) == 2
    second()
    assert advanced == [10, 12]
    second()
    third()
    assert advanced == [10, 12]
    assert len(acks) == 0


def test_tracking_continues_after_the_prefix_caught_up() -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    acks.track(0)()
    later = acks.track(1)
    assert len(acks) == 1
    later()
    assert advanced == [0, 1]


@given(st.permutations(list(range(12))))
def test_any_ack_order_checkpoints_exactly_the_contiguous_prefix(order: list[int]) -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    callbacks = [acks.track(offset) for offset in range(12)]
    done: set[int] = set()
    for offset in order:
        callbacks[offset]()
        done.add(offset)
        prefix = 0
        while prefix in done:
            prefix += 1
        # the last advance is the end of the acked prefix, and it only ever grows
        assert (advanced[-1] + 1 if advanced else 0) == prefix
        assert len(acks) == 12 - prefix
    assert advanced == sorted(set(advanced))
    assert advanced[-1] == 11


# -- Ack -------------------------------------------------------------------------------------


def test_an_ack_fires_once_when_the_last_holder_releases() -> None:
    on_done = Calls()
    ack = Ack(on_done, holders=1)
    ack.hold(2)
    ack.release()
    ack.release()
    assert on_done.count == 0
    assert not ack.done
    ack.release()
    assert on_done.count == 1
    assert ack.done


def test_an_ack_with_no_holders_waits_for_the_first_hold() -> None:
    on_done = Calls()
    ack = Ack(on_done, holders=0)  # how the bus starts: it holds once per delivery
    assert not ack.done
    ack.hold(2)
    ack.release()
    assert on_done.count == 0
    ack.hold()  # a reaction of a delivery still running holds the record too
    ack.release()
    ack.release()
    assert on_done.count == 1


def test_holding_an_acknowledged_record_is_an_error() -> None:
    ack = Ack(Calls())
    ack.release()
    with pytest.raises(RuntimeError, match="already acknowledged"):
        ack.hold()


def test_releasing_more_often_than_held_is_an_error_and_never_acks_twice() -> None:
    on_done = Calls()
    ack = Ack(on_done)
    ack.release()
    with pytest.raises(RuntimeError, match="released more often than held"):
        ack.release()
    assert on_done.count == 1
    with pytest.raises(RuntimeError, match="released more often than held"):
        Ack(Calls(), holders=0).release()


def test_an_incoming_record_defaults_to_a_noop_ack_and_no_origin() -> None:
    incoming = Incoming(AgentEvent(event_type="tick"))
    assert incoming.origin == ""
    incoming.ack()  # does nothing, any number of times
    incoming.ack()
    assert Incoming(AgentEvent(event_type="tick"), noop_ack, "a.jsonl:3").origin == "a.jsonl:3"


def test_an_incoming_record_of_a_ledger_acks_its_sequence_number_and_names_its_place() -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    first = acks.extend([40, 41])
    records = [
        Incoming(
            AgentEvent(event_type="tick"),
            origin="orders[2]@",
            acks=acks,
            sequence=first + n,
            position=40 + n,
        )
        for n in range(2)
    ]
    assert [r.origin for r in records] == ["orders[2]@40", "orders[2]@41"]
    records[1].ack()
    assert advanced == []
    records[0].ack()
    assert advanced == [41]


def test_a_range_ack_continuing_the_prefix_advances_once_to_its_end() -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    first = acks.extend(range(100, 110))
    acks.ack_range(first, 4)
    assert advanced == [103]
    assert len(acks) == 6
    acks.ack_range(first + 6, 2)  # after a gap: early
    assert advanced == [103]
    acks.ack(first + 4)
    acks.ack_range(first + 3, 3)  # overlaps what is acked: harmless
    assert advanced == [103, 104, 107]
    acks.ack_range(first, 10)
    assert advanced == [103, 104, 107, 109]
    assert len(acks) == 0
    acks.ack_range(first, 10)  # acked already: nothing
    acks.ack_range(first + 10, 0)
    assert advanced == [103, 104, 107, 109]


@given(
    st.lists(st.tuples(st.integers(0, 11), st.integers(1, 5)), max_size=20),
    st.integers(1, 12),
)
@example(runs=[(2, 2), (0, 5)], count=10)
def test_range_acks_in_any_order_advance_exactly_to_the_contiguous_prefix(
    runs: list[tuple[int, int]], count: int
) -> None:
    advanced: list[int] = []
    acks: OrderedAcks[int] = OrderedAcks(advanced.append)
    first = acks.extend(range(count))
    acked: set[int] = set()
    for start, length in runs:
        acks.ack_range(first + start, min(length, max(0, count - start)))
        acked.update(range(start, min(start + length, count)))
        prefix = next((n for n in range(count) if n not in acked), count)
        assert len(acks) == count - prefix
        assert (advanced[-1] if advanced else -1) == prefix - 1
        assert all(n >= prefix for n in acks._early)  # no stale entries kept
    assert advanced == sorted(set(advanced))  # it only ever grows
