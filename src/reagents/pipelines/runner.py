"""`AgentRunner`: one agent's priority queue, its long-lived workers, retries and stats.

Events wait in a `PriorityFifo` (event priority, then arrival), so when the agent is busy
the most urgent waiting event is handled next and equals stay FIFO. ``max_concurrent``
workers pull from it; there is no Task per event. A failure is retried after the
agent's backoff without holding a worker, then dead-lettered; it never ends the stream.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from datetime import datetime
from typing import Protocol

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.delivery import Ack
from reagents.errors import PayloadValidationError
from reagents.events import AgentEvent, utc_now
from reagents.pipelines.stats import AgentStats, StatsSnapshot
from reagents.policies import PriorityFifo, TokenBucket
from reagents.schemas import PayloadValidator
from reagents.sinks.agent import RESPONSE_TYPE, Agent, collect_outputs

__all__ = ["ERROR_TYPE", "AgentRunner", "Delivery", "RunnerHost", "agent_error"]

logger = logging.getLogger(__name__)

_YIELD_EVERY = 16


class Delivery:
    """One event on its way to one agent, with the source record it holds open."""

    __slots__ = ("ack", "attempts", "depth", "enqueued_at", "event", "first_failure_at")

    def __init__(self, event: AgentEvent, ack: Ack, depth: int) -> None:
        self.event = event
        self.ack = ack
        self.depth = depth
        self.enqueued_at = 0.0
        self.attempts = 0
        self.first_failure_at: datetime | None = None


class RunnerHost(Protocol):
    """What a runner needs from its pipeline: a way to emit, to dead-letter, to account."""

    def emit(self, events: list[AgentEvent], cause: Delivery) -> None:
        """Route an agent's outputs, holding the cause's source record open."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Record a failure that will not be retried."""

    def finished(self, delivery: Delivery) -> None:
        """A delivery is handled or dead-lettered: release its record and its flow slot."""


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
        self._queue: PriorityFifo[Delivery] = PriorityFifo(_urgency)
        self._idle_workers: deque[asyncio.Future[None]] = deque()
        self._workers: list[asyncio.Task[None]] = []
        self._retries: set[asyncio.TimerHandle] = set()
        self._bucket: TokenBucket | None = None
        self._pacing = asyncio.Lock()

    @property
    def id(self) -> str:
        """The agent's id."""
        return self.agent.id

    @property
    def queue_depth(self) -> int:
        """Events waiting for a worker (not counting pending retries)."""
        return len(self._queue)

    def snapshot(self) -> StatsSnapshot:
        """The agent's counters now."""
        return self.stats.snapshot(self.agent.id, len(self._queue) + len(self._retries))

    def submit(self, delivery: Delivery) -> None:
        """Queue an event for the agent (never blocks: flow control bounds the total)."""
        self.stats.received += 1
        delivery.enqueued_at = time.perf_counter()
        self._enqueue(delivery)

    def _enqueue(self, delivery: Delivery) -> None:
        self._queue.push(delivery)
        idle = self._idle_workers
        while idle:
            worker = idle.popleft()
            if not worker.done():
                worker.set_result(None)
                break

    async def _next(self) -> Delivery:
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
            self._bucket = TokenBucket(self.agent.rate_limit, asyncio.get_running_loop().time())
        self._workers = [
            asyncio.create_task(self._work(), name=f"reagents:{self.agent.id}:{n}")
            for n in range(self.agent.concurrency)
        ]

    async def stop(self) -> None:
        """Cancel workers and pending retries; unfinished events stay unacknowledged."""
        for handle in self._retries:
            handle.cancel()
        self._retries.clear()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def _work(self) -> None:
        handled = 0
        while True:
            delivery = await self._next()
            if self._bucket is not None:
                await self._pace(self._bucket)
            await self._handle(delivery)
            handled += 1
            if handled % _YIELD_EVERY == 0:
                # A handler that never suspends would otherwise keep the loop to itself
                # while its queue is full: give other agents and the sources a turn.
                await asyncio.sleep(0)

    async def _pace(self, bucket: TokenBucket) -> None:
        # One worker at a time waits for a token, so waiting workers are served in order.
        async with self._pacing:
            loop = asyncio.get_running_loop()
            while wait := bucket.take(loop.time()):
                await asyncio.sleep(wait)

    async def _handle(self, delivery: Delivery) -> None:
        agent, stats = self.agent, self.stats
        if agent.input_validator is not None:
            try:
                agent.input_validator.check(delivery.event.event_type, delivery.event.payload)
            except PayloadValidationError as error:
                delivery.attempts += 1
                self._give_up(delivery, error, FailureStage.VALIDATION)
                return
        stats.in_flight += 1
        started = time.perf_counter()
        try:
            result = agent.handle(delivery.event)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if agent.handler_timeout is None:
                outputs = await collect_outputs(result, delivery.event, agent.id, elapsed_ms)
            else:
                outputs = await asyncio.wait_for(
                    collect_outputs(result, delivery.event, agent.id, elapsed_ms),
                    agent.handler_timeout,
                )
            if agent.output_validator is not None:
                _check_outputs(agent.output_validator, outputs)
        except asyncio.CancelledError:
            stats.in_flight -= 1
            raise
        except Exception as error:
            stats.in_flight -= 1
            self._failed(delivery, error)
            return
        stats.in_flight -= 1
        stats.processed += 1
        if outputs:
            stats.emitted += len(outputs)
            self._host.emit(outputs, delivery)
        stats.latencies.append(time.perf_counter() - delivery.enqueued_at)
        self._host.finished(delivery)

    def _failed(self, delivery: Delivery, error: Exception) -> None:
        stats = self.stats
        stats.failed += 1
        delivery.attempts += 1
        if delivery.first_failure_at is None:
            delivery.first_failure_at = utc_now()
        limit = min(self.agent.backoff.max_retries, delivery.event.max_retries)
        if delivery.attempts <= limit:
            stats.retried += 1
            delay = self.agent.backoff.delay(delivery.attempts, self._rng)
            logger.debug(
                "agent %s: %s on event %s, retry %d in %.3fs",
                self.agent.id,
                type(error).__name__,
                delivery.event.event_id,
                delivery.attempts,
                delay,
            )
            self._schedule_retry(delivery, delay)
            return
        self._give_up(delivery, error, self.stage)

    def _give_up(self, delivery: Delivery, error: Exception, stage: FailureStage) -> None:
        """Dead-letter ``delivery``; an event addressed to this agent also gets an answer."""
        self.stats.dead_lettered += 1
        event = delivery.event
        logger.info(
            "agent %s: event %s dead-lettered after %d attempt(s): %s: %s",
            self.agent.id,
            event.event_id,
            delivery.attempts,
            type(error).__name__,
            error,
        )
        self._host.dead_letter(
            DeadLetter.from_error(
                stage,
                error,
                event=event,
                agent_id=self.agent.id,
                attempts=delivery.attempts,
                first_failure_at=delivery.first_failure_at,
            )
        )
        if self.agent.id in event.target_agents:
            answer = agent_error(event, self.agent.id, error, stage, delivery.attempts)
            self._host.emit([answer], delivery)
        self._host.finished(delivery)

    def _schedule_retry(self, delivery: Delivery, delay: float) -> None:
        loop = asyncio.get_running_loop()

        def retry() -> None:
            self._retries.discard(handle)
            delivery.event = delivery.event.with_retry()
            self._enqueue(delivery)

        handle = loop.call_later(delay, retry)
        self._retries.add(handle)

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return self.agent.describe()


def _urgency(delivery: Delivery) -> int:
    return delivery.event.priority


ERROR_TYPE = "agent_error"


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


def _check_outputs(validator: PayloadValidator, outputs: list[AgentEvent]) -> None:
    for output in outputs:
        payload = output.payload
        if output.event_type == RESPONSE_TYPE and isinstance(payload.get("result"), dict):
            payload = payload["result"]
        validator.check(output.event_type, payload)
