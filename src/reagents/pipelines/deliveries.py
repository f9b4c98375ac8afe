"""What an agent's runner works on: a `Delivery` (one event) or a `FlowItem` (a flow's output).

A `Delivery` is one event on its way to one agent, holding its source record open
(``ack``). Inside a flow it is also a `Receipt`: operators release it when they drop
its event, share it when they copy the event into a second window, and fail it when a
user callback raised on it. A `FlowItem` is what the flow emitted — an event, a list
of events, a running state — with the receipts of every delivery it was made from;
the runner releases them when the handler has handled or dead-lettered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Ack, Held, Receipt
from reagents.events import AgentEvent
from reagents.schemas import PayloadValidator
from reagents.sinks.outputs import RESPONSE_TYPE

__all__ = [
    "ERROR_TYPE",
    "Delivery",
    "DeliveryOwner",
    "FlowItem",
    "RunnerHost",
    "WorkItem",
    "agent_error",
    "check_outputs",
    "complete",
    "release_all",
    "settle",
]

ERROR_TYPE = "agent_error"


class DeliveryOwner(Protocol):
    """The flow a delivery went into: it counts the holds on it and settles it."""

    def add_hold(self, delivery: Delivery) -> None:
        """One more hold on ``delivery`` (it was shared into a second window)."""

    def let_go(self, delivery: Delivery) -> None:
        """One hold on ``delivery`` ended; at the last one it is done."""

    def flow_failed(self, delivery: Delivery, error: Exception) -> None:
        """A flow operator could not go on with ``delivery``: dead-letter it."""


class Delivery:
    """One event on its way to one agent, with the source record it holds open."""

    __slots__ = (
        "ack",
        "attempts",
        "depth",
        "enqueued_at",
        "event",
        "first_failure_at",
        "holders",
        "owner",
        "side",
    )

    def __init__(self, event: AgentEvent, ack: Ack, depth: int) -> None:
        self.event = event
        self.ack = ack
        self.depth = depth
        self.enqueued_at = 0  # time.perf_counter_ns() when queued for the agent
        self.attempts = 0
        self.first_failure_at: datetime | None = None
        self.holders = 1
        self.owner: DeliveryOwner | None = None
        self.side = False  # an event of a flow's side input (a joined stream)

    @property
    def value(self) -> AgentEvent:
        """What the handler receives: the event."""
        return self.event

    @property
    def priority(self) -> int:
        """How urgent (1 first): the event's priority."""
        return self.event.priority

    def deliveries(self) -> Sequence[Delivery]:
        """The deliveries this work item settles: itself."""
        return (self,)

    # -- Receipt (inside a flow) ------------------------------------------------------

    def release(self) -> None:
        """One holder is done; the last one settles the delivery."""
        self.holders -= 1
        if self.owner is not None:
            self.owner.let_go(self)

    def share(self) -> None:
        """One more holder (the event was copied into a second window)."""
        self.holders += 1
        if self.owner is not None:
            self.owner.add_hold(self)

    def fail(self, error: Exception) -> None:
        """A flow operator's callback raised on this event: dead-letter it, then release."""
        if self.owner is not None:
            self.owner.flow_failed(self, error)
        self.release()


class FlowItem:
    """A value a flow emitted, with the receipts of the deliveries it was made from.

    Its priority is the most urgent of those events; its cause (for ``causation_id``
    and the conversation of what the handler emits) is the last of them; its depth in
    a chain of reactions is the deepest.
    """

    __slots__ = (
        "attempts",
        "depth",
        "enqueued_at",
        "event",
        "first_failure_at",
        "priority",
        "receipts",
        "value",
    )

    def __init__(self, held: Held[Any]) -> None:
        receipts = held.receipts
        self.value = held.value
        self.receipts: tuple[Receipt, ...] = receipts
        only = receipts[0] if len(receipts) == 1 else None
        if type(only) is Delivery:  # the common case: one event in, one value out
            self.event = only.event
            self.priority = only.event.priority
            self.depth = only.depth
        else:
            members = [r for r in receipts if isinstance(r, Delivery)]
            if not members:
                raise RuntimeError("a flow emitted a value made from no delivery")
            self.event = members[-1].event
            self.priority = min(m.event.priority for m in members)
            self.depth = max(m.depth for m in members)
        self.enqueued_at = 0  # time.perf_counter_ns() when queued for the agent
        self.attempts = 0
        self.first_failure_at: datetime | None = None

    def deliveries(self) -> Sequence[Delivery]:
        """The deliveries this value was made from (each is dead-lettered on failure)."""
        return [r for r in self.receipts if isinstance(r, Delivery)]


WorkItem = Delivery | FlowItem


def release_all(receipts: Sequence[Receipt]) -> None:
    """Release every receipt (a flow output was handled or dead-lettered)."""
    for receipt in receipts:
        receipt.release()


def settle(item: WorkItem, host: RunnerHost) -> None:
    """``item`` was handled with no outputs (or dead-lettered without answers): settle it."""
    if type(item) is Delivery:
        host.finished(item)
    else:
        release_all(item.receipts)  # type: ignore[union-attr]


def complete(item: WorkItem, outputs: list[AgentEvent], host: RunnerHost) -> None:
    """Route what handling ``item`` produced, then settle it (reactions hold it open)."""
    if isinstance(item, Delivery):
        if outputs:
            host.emit(outputs, item.ack, item.depth)
        host.finished(item)
        return
    receipts = item.receipts
    if not outputs:
        release_all(receipts)
    elif len(receipts) == 1 and isinstance(receipts[0], Delivery):
        host.emit(outputs, receipts[0].ack, item.depth)  # they hold its record...
        receipts[0].release()  # ...so it may be released now
    else:
        group = Ack(partial(release_all, receipts))
        host.emit(outputs, group, item.depth)
        group.release()


class RunnerHost(Protocol):
    """What a runner needs from its pipeline: a way to emit, to dead-letter, to account."""

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        """Route an agent's outputs; each holds ``ack`` (its cause's records) open."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Record a failure that will not be retried."""

    def finished(self, delivery: Delivery) -> None:
        """A delivery is handled or dead-lettered: release its record and its flow slot."""


def agent_error(
    event: AgentEvent, agent_id: str, error: Exception, stage: FailureStage, attempts: int
) -> AgentEvent:
    """The answer to an event addressed to an agent that could not handle it."""
    return event.derive(
        ERROR_TYPE,
        {
            "agent_id": agent_id,
            "stage": stage.value,
            "error_type": type(error).__name__,
            "message": str(error) or type(error).__name__,
            "attempts": attempts,
            "original_event_type": event.event_type,
        },
        source_agent=agent_id,
        target_agents=(),
    )


def check_outputs(validator: PayloadValidator, outputs: list[AgentEvent]) -> None:
    """Raise if an output's payload does not fit the agent's output schema."""
    for output in outputs:
        payload = output.payload
        if output.event_type == RESPONSE_TYPE and isinstance(payload.get("result"), dict):
            payload = payload["result"]
        validator.check(output.event_type, payload)
