"""`AgentRunner`: one agent's priority queue, its long-lived workers, retries and stats.

Events wait in a `PriorityFifo` (event priority, then arrival; a plain deque while
all waiting events have one priority), so the most urgent waiting event is handled
next and equals stay FIFO; with aging, a waiting event is passed by at most
`PRIORITY_AGING` later arrivals per level. ``max_concurrent`` workers pull from it;
there is no Task per event. A failure is retried after the agent's backoff without
holding a worker, then dead-lettered (at once if ``no_retry`` matches it; see
`retries`, `failures`); it never ends the stream. A handler that returns None costs
no output list (an ``async def`` one a single await), and a busy worker reads the
clock once per event (see `AgentRunner._work`).

An agent with a flow gets its deliveries through its `FlowStage` first; what the flow
emits is queued as a `FlowItem` and handled like an event, and its receipts are
released once it is handled or dead-lettered. A `HandlingObserver` (tracing) hears of
each handling; without one the runner pays one ``is not None`` check per event.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from operator import attrgetter
from types import CoroutineType
from typing import Any

from reagents.ai.agent import LLMAgent
from reagents.dead_letter import FailureStage
from reagents.delivery import Held, causation_depth
from reagents.errors import PayloadValidationError
from reagents.events import AgentEvent
from reagents.pipelines.deliveries import (
    Delivery,
    FlowItem,
    RunnerHost,
    WorkItem,
    complete,
    settle,
)
from reagents.pipelines.failures import dead_letter_item
from reagents.pipelines.flows import FlowStage
from reagents.pipelines.handling import Handling, HandlingObserver, handler_outputs
from reagents.pipelines.pacing import Pacer
from reagents.pipelines.retries import Retries, retry_delay
from reagents.pipelines.stats import AgentStats, StatsSnapshot, with_model_usage
from reagents.policies import PriorityFifo
from reagents.sinks.agent import Agent

__all__ = ["PRIORITY_AGING", "AgentRunner"]

logger = logging.getLogger(__name__)

# Arrivals worth one level of priority: strict priority within queues of up to this
# many events (the default high watermark), and no event waits for ever.
PRIORITY_AGING = 1000

# Events a worker handles before it lets the loop run (sources, other agents, timers):
# every loop turn costs a select and a wake of every ready task, so at 16 that turn
# was a fifth of the cost of a cheap handler; 64 cheap handlings take well under 1 ms.
_YIELD_EVERY = 64
_URGENCY = attrgetter("priority")  # of a `WorkItem`: its (most urgent) event priority


class AgentRunner:
    """Runs one agent: queue, ``max_concurrent`` workers, retry with backoff, stats."""

    def __init__(
        self,
        agent: Agent,
        host: RunnerHost,
        stage: FailureStage = FailureStage.AGENT,
        rng: random.Random | None = None,
    ) -> None:
        self.agent = agent
        self.stage = stage
        self.stats = AgentStats()
        self._host = host
        self._rng = rng or random.Random()
        self._queue: PriorityFifo[WorkItem] = PriorityFifo(_URGENCY, aging=PRIORITY_AGING)
        self._idle_workers: deque[asyncio.Future[None]] = deque()
        self._workers: list[asyncio.Task[None]] = []
        self._retries = Retries(self._enqueue)
        self._pacer: Pacer | None = None
        self._taken = 0  # items workers took (pacing or handling)
        self.observer: HandlingObserver | None = None  # set by `Bus.observe`
        self.flow = (
            FlowStage(agent, self._accept, host.finished, self.flow_failed)
            if agent.flow is not None
            else None
        )

    @property
    def id(self) -> str:
        """The agent's id."""
        return self.agent.id

    @property
    def queue_depth(self) -> int:
        """Events waiting for a worker (not counting pending retries)."""
        return len(self._queue)

    def snapshot(self) -> StatsSnapshot:
        """The agent's counters now (and an LLM agent's model usage)."""
        snapshot = self.stats.snapshot(self.agent.id, len(self._queue) + len(self._retries))
        if isinstance(self.agent, LLMAgent):
            return with_model_usage(snapshot, self.agent.usage)
        return snapshot

    @property
    def idle(self) -> bool:
        """Nothing queued, handled or waiting for a retry (a flow may still hold input)."""
        return not self._queue and self._taken == 0 and not self._retries

    @property
    def running(self) -> bool:
        """True from `start` until `stop` (its workers take work)."""
        return bool(self._workers)

    def submit(self, delivery: Delivery) -> None:
        """Queue an event for the agent (never blocks: flow control bounds the total)."""
        self.stats.received += 1
        if self.flow is None:
            delivery.enqueued_at = time.perf_counter_ns()
            self._enqueue(delivery)
        elif self._valid_input(delivery):
            self.flow.enter(delivery)
            self.flow.push(delivery)

    def _accept(self, held: Held[Any]) -> None:
        item = FlowItem(held)
        item.enqueued_at = time.perf_counter_ns()
        self._enqueue(item)

    def flow_failed(self, delivery: Delivery, error: Exception) -> None:
        """A flow operator could not go on with ``delivery``: dead-letter it (and answer
        it, if it was addressed to this agent)."""
        self.stats.dead_lettered += 1
        delivery.attempts += 1  # the flow's: a delivery in a flow is never handled alone
        answers = dead_letter_item(self._host, self.agent.id, delivery, error, FailureStage.FLOW)
        if answers:
            self._host.emit(answers, delivery.ack, delivery.depth)

    def _valid_input(self, delivery: Delivery) -> bool:
        validator = self.agent.input_validator
        if validator is None:
            return True
        try:
            validator.check(delivery.event.event_type, delivery.event.payload)
        except PayloadValidationError as error:
            delivery.attempts += 1
            self._give_up(delivery, error, FailureStage.VALIDATION)
            return False
        return True

    def _enqueue(self, item: WorkItem) -> None:
        self._queue.push(item)
        idle = self._idle_workers
        while idle:
            worker = idle.popleft()
            if not worker.done():
                worker.set_result(None)
                break

    async def _next(self) -> WorkItem:
        queue = self._queue
        while not queue:
            woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._idle_workers.append(woken)
            await woken
        return queue.pop()

    def start(self) -> None:
        """Start the workers on the running loop."""
        if self._workers:
            return
        if self.agent.rate_limit is not None:
            self._pacer = Pacer(self.agent.rate_limit)
        self._workers = [
            asyncio.create_task(self._work(), name=f"reagents:{self.agent.id}:{n}")
            for n in range(self.agent.concurrency)
        ]
        if self.flow is not None:
            self.flow.start()

    async def stop(self) -> None:
        """Cancel workers and pending retries; unfinished events stay unacknowledged."""
        if self.flow is not None:
            self.flow.stop()
        self._retries.cancel()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []
        self._idle_workers.clear()
        self._queue.drain()  # not acknowledged: a checkpointing source delivers them again

    async def _work(self) -> None:
        """Take items and handle them, one at a time, until cancelled.

        The per-event path reads the clock once, at the end of a handling; that reading
        is also the start of the next one when the worker takes it without suspending
        in between (another item was waiting). After any suspension it reads afresh.
        """
        queue, agent, stats, pacer = self._queue, self.agent, self.stats, self._pacer
        validated = self.flow is None and agent.input_validator is not None
        until_yield = _YIELD_EVERY
        now = 0  # the clock at the end of the last handling, while nothing ran since
        while True:
            if until_yield <= 0:
                # A handler that never suspends would otherwise keep the loop to itself
                # while its queue is full: give other agents and the sources a turn.
                until_yield = _YIELD_EVERY
                await asyncio.sleep(0)
                now = 0
            if queue:
                item = queue.pop()
            else:
                item = await self._next()
                now = 0
            self._taken += 1
            try:
                if pacer is not None:
                    await pacer.wait()
                    now = 0
                if validated and not self._valid_input(item):  # type: ignore[arg-type]
                    now = 0
                    continue  # dead-lettered (the finally counts it towards a pause)
                stats.in_flight += 1
                started = now or time.perf_counter_ns()
                now = 0
                if causation_depth.get() != item.depth:
                    causation_depth.set(item.depth)  # a sink writing to Kafka passes it on
                seen: Handling | None = None
                if self.observer is not None:
                    seen = self.observer.start(agent.id, item.event, item.attempts + 1, self.stage)
                try:
                    outputs: list[AgentEvent] | None = None
                    result = agent.handle(item.value)
                    if result is not None:
                        if type(result) is CoroutineType and agent.handler_timeout is None:
                            result = await result  # an async handler: one await
                        if result is not None:
                            outputs = await handler_outputs(agent, result, item.event, started)
                except asyncio.CancelledError as error:
                    stats.in_flight -= 1
                    if seen is not None:
                        seen.failed(error, "cancelled")
                    raise
                except Exception as error:
                    stats.in_flight -= 1
                    retried = self._failed(item, error)
                    if seen is not None:
                        seen.failed(error, "retried" if retried else "dead_lettered")
                else:
                    stats.in_flight -= 1
                    stats.processed += 1
                    if seen is not None:
                        outputs = seen.handled(outputs or [])
                    if outputs:
                        stats.emitted += len(outputs)
                        complete(item, outputs, self._host)
                    else:
                        settle(item, self._host)  # nothing to route: no list, no emit
                    now = time.perf_counter_ns()
                    stats.latency.record(started - item.enqueued_at, now - started)
            finally:
                self._taken -= 1
                until_yield -= 1

    def _failed(self, item: WorkItem, error: Exception) -> bool:
        """Count a failure; retry ``item`` later (True) or dead-letter it now (False)."""
        self.stats.failed += 1
        delay, note = retry_delay(self.agent, item, error, self._rng)
        if delay is None:
            self._give_up(item, error, self.stage, note)
            return False
        self.stats.retried += 1
        logger.debug("agent %s: %s, retry %d in %.3fs", self.id, error, item.attempts, delay)
        self._retries.schedule(item, delay)
        return True

    def _give_up(
        self, item: WorkItem, error: Exception, stage: FailureStage, note: str | None = None
    ) -> None:
        """Dead-letter ``item``'s events; those addressed to this agent also get an answer."""
        self.stats.dead_lettered += 1
        answers = dead_letter_item(self._host, self.agent.id, item, error, stage, note)
        complete(item, answers, self._host)

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return self.agent.describe()
