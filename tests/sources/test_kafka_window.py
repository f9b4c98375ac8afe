"""`PartitionWindow`, the Kafka source's pause logic, on partitions with no broker.

A partition is paused when its unacked prefix reaches ``high`` and resumed at ``low``;
a poll asks for the least room of an open partition but never under ``high - low``
(no one-record polls while one partition is nearly full); the keep-alive's pauses
are undone right after its poll.
"""

from __future__ import annotations

from collections.abc import Callable

from aiokafka.structs import TopicPartition

from reagents.policies import Watermarks
from reagents.sources.kafka_partitions import Partition
from reagents.sources.kafka_window import PartitionWindow


class Consumer:
    """Records pause and resume calls, as aiokafka's consumer would take them."""

    def __init__(self) -> None:
        self.paused: set[TopicPartition] = set()

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)


def partition(number: int, unacked: int) -> Partition:
    part = Partition(TopicPartition("t", number), low=50, on_room=lambda: None)
    part.acks.extend(range(unacked))
    return part


def window(flows_wait: Callable[[], bool] | None = None) -> PartitionWindow:
    return PartitionWindow("t", Watermarks(high=100, low=50), lambda: flows_wait)


def test_a_full_partition_is_paused_until_it_is_down_to_low() -> None:
    consumer, marks = Consumer(), window()
    full, empty = partition(0, 100), partition(1, 0)
    assert marks.update(consumer, [full, empty]) == 100  # the open one's room
    assert consumer.paused == {full.tp}
    assert marks.pauses == 1
    full.acks.ack_range(0, 40)  # 60 left: above low, stays paused
    marks.update(consumer, [full, empty])
    assert full.paused
    full.acks.ack_range(40, 10)  # 50 left: resumed
    marks.update(consumer, [full, empty])
    assert not full.paused
    assert consumer.paused == set()


def test_a_nearly_full_partition_does_not_shrink_polls_to_a_few_records() -> None:
    consumer, marks = Consumer(), window()
    assert marks.update(consumer, [partition(0, 99), partition(1, 0)]) == 50  # high - low
    assert marks.update(consumer, [partition(0, 30), partition(1, 10)]) == 70


def test_no_partition_open_means_no_poll_unless_only_flows_hold_the_records() -> None:
    assert window().update(Consumer(), [partition(0, 100)]) == 0
    consumer = Consumer()
    assert window(lambda: True).update(consumer, [partition(0, 150)]) == 100  # read on
    assert consumer.paused == set()


def test_the_keep_alive_pauses_only_open_partitions_and_resumes_just_those() -> None:
    consumer, marks = Consumer(), window()
    full, open_one = partition(0, 100), partition(1, 60)
    marks.update(consumer, [full, open_one])
    paused = marks.pause_all(consumer, [full, open_one])
    assert paused == [open_one]
    assert consumer.paused == {full.tp, open_one.tp}
    marks.resume(consumer, paused)
    assert consumer.paused == {full.tp}  # still full: still paused
    assert not open_one.paused
    assert marks.pauses == 1  # the keep-alive's pauses are not the window's
