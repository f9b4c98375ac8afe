"""`FlowStage`: an agent's flow between its subscription and its handler.

The flow is built once, when the agent is added (so a bad flow fails at declaration),
and subscribed once per run on the agent's clock (`LoopScheduler` or `EventClock`).
Each delivery goes in as a `Held` event holding its own receipt; whatever comes out
goes to the agent's runner as a `FlowItem`. There is no Task and no queue per event:
pushing a delivery is a chain of plain function calls.

At the end of the input (or of a drain) the pipeline flushes the stage: its chain is
completed, so open windows and batches are sent, and subscribed again afresh for what
may still come (reactions of other agents).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from reactivex import Observable, abc

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.operators._flow import Flow, FlowContext, Inlet, build_flow
from reagents.operators.expression import where
from reagents.operators.filters import Filter
from reagents.pipelines.clock import EventClock, LoopScheduler
from reagents.pipelines.deliveries import Delivery
from reagents.policies import EventTime, FlowTime
from reagents.sinks.agent import Agent

__all__ = ["FlowStage", "SideInput"]

logger = logging.getLogger(__name__)


class SideInput:
    """Another stream a flow reads (`with_latest_from`): matching events, as deliveries."""

    def __init__(self, subscription: Filter, inlet: Inlet, stage: FlowStage) -> None:
        self.subscription = subscription
        self.inlet = inlet
        self.stage = stage


class _Context(FlowContext):
    """What the pipeline offers a flow: side inputs routed by the bus."""

    def __init__(self, stage: FlowStage) -> None:
        self._stage = stage

    def side_input(self, subscription: object, name: str) -> Observable[Held[Any]]:
        chosen = where(subscription) if isinstance(subscription, str) else subscription
        if not isinstance(chosen, Filter):
            raise ConfigurationError(f"{name}(): name the other stream with a where() expression")
        inlet = Inlet()
        self._stage.sides.append(SideInput(chosen, inlet, self._stage))
        return Flow(inlet.subscribe, context=self)


class FlowStage:
    """One agent's flow: built at declaration, subscribed per run, flushed at the end."""

    def __init__(
        self,
        agent: Agent,
        output: Callable[[Held[Any]], None],
        settle: Callable[[Delivery], None],
        failed: Callable[[Delivery, Exception], None],
    ) -> None:
        assert agent.flow is not None
        self._settle = settle
        self.flow_failed = failed
        self.holds = 0  # holds on deliveries in the flow or its queued outputs
        self.side_holds = 0  # the same for side-input (joined) events
        self.agent_id = agent.id
        self.time: FlowTime = agent.flow_time
        self.sides: list[SideInput] = []
        self._output = output
        self._inlet = Inlet()
        head: Flow[Any] = Flow(self._inlet.subscribe, context=_Context(self))
        self.flow = build_flow(agent.flow, head, agent.id)
        self._scheduler: abc.SchedulerBase | None = None
        self._clock: EventClock | None = None
        self._subscriptions: dict[int, abc.DisposableBase] = {}
        self._generation = 0
        self._fresh = True  # the current chain has had no input yet
        self._running = False
        self._idle_timer: asyncio.TimerHandle | None = None
        self._last_input = 0.0

    @property
    def hold(self) -> int:
        """How many deliveries the flow may hold while it waits for more input."""
        return self.flow.hold

    # -- DeliveryOwner: the receipts of this flow's deliveries -------------------------

    def enter(self, delivery: Delivery, *, side: bool = False) -> None:
        """``delivery`` goes into this flow (``side``: as a joined stream's event)."""
        delivery.owner = self
        if side:
            delivery.side = True
            self.side_holds += 1
        else:
            self.holds += 1

    def add_hold(self, delivery: Delivery) -> None:
        """One more hold on ``delivery`` (it entered, or was shared into a second window)."""
        if delivery.side:
            self.side_holds += 1
        else:
            self.holds += 1

    def let_go(self, delivery: Delivery) -> None:
        """A hold ended (dropped, superseded, or its output handled); the last settles."""
        if delivery.side:
            self.side_holds -= 1
        else:
            self.holds -= 1
        if delivery.holders == 0:
            self._settle(delivery)

    # -- running ----------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe the flow on the agent's clock (once per run)."""
        loop = asyncio.get_running_loop()
        self._running = True
        self.holds = self.side_holds = 0  # a previous run's holds were abandoned
        if isinstance(self.time, EventTime):
            self._clock = EventClock(self.time.lateness)
            self._scheduler = self._clock
            if self.time.idle_timeout is not None:
                self._arm_idle(loop, self.time.idle_timeout)
        else:
            self._scheduler = LoopScheduler(loop)
        self._subscribe()

    def _subscribe(self) -> None:
        """A fresh chain; the inlet's pushes go to it from now on."""
        self._generation += 1
        self._fresh = True
        generation = self._generation

        def completed() -> None:
            ended = self._subscriptions.pop(generation, None)  # keep no finished chain
            if ended is not None:
                ended.dispose()
            if self._running and generation == self._generation:
                self._subscribe()  # the chain ended on its own (take_while...): again

        subscription = self.flow.subscribe(
            self._output, self._crashed, completed, scheduler=self._scheduler
        )
        if generation == self._generation:  # unless it already ended while subscribing
            self._subscriptions[generation] = subscription

    def push(self, delivery: Delivery) -> None:
        """One event into the flow (``delivery`` is its receipt)."""
        if self._clock is not None:
            self._last_input = asyncio.get_running_loop().time()
            self._clock.observe(delivery.event.timestamp)
        observer = self._inlet.observer
        if observer is None:  # not running: the delivery stays unacknowledged
            return
        self._fresh = False
        observer.on_next(Held(delivery.event, (delivery,)))

    def push_side(self, side: SideInput, delivery: Delivery) -> None:
        """One event of a side input (it does not move this flow's event time)."""
        self._fresh = False
        if side.inlet.observer is not None:
            side.inlet.observer.on_next(Held(delivery.event, (delivery,)))

    def flush(self) -> None:
        """Complete the chain (open windows and batches are sent) and start a fresh one.

        The fresh chain takes new input at once, while the old one finishes what it
        still has to send (a throttle's queue).
        """
        observer = self._inlet.observer
        if observer is not None and not self._fresh:
            self._subscribe()
            observer.on_completed()
        if self._clock is not None:  # event time: what waits for a later watermark runs now
            self._clock.run_due()

    def stop(self) -> None:
        """Unsubscribe; what the flow still holds stays unacknowledged (redelivered)."""
        self._running = False
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        subscriptions, self._subscriptions = self._subscriptions, {}
        for subscription in subscriptions.values():
            subscription.dispose()

    def _crashed(self, error: Exception) -> None:
        logger.error(
            "agent %s: its flow failed (%s: %s) and starts again; the values it held are "
            "not acknowledged and will be delivered again after a restart",
            self.agent_id,
            type(error).__name__,
            error,
        )
        if self._running:
            self._subscribe()

    def _arm_idle(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        def check() -> None:
            quiet = loop.time() - self._last_input
            if self._clock is not None and quiet >= timeout:
                self._clock.advance_by_seconds(timeout)
            self._idle_timer = loop.call_later(timeout, check)

        self._last_input = loop.time()
        self._idle_timer = loop.call_later(timeout, check)
