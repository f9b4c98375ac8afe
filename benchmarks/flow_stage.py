"""The flow stage alone: CPU µs to hand deliveries to an agent's runner, with and
without a flow (``each(map)``), in interleaved rounds (`run.py` prints them).

This reaches below the public API (the runner and its deliveries) on purpose: it
times the cost a flow adds before the handler, without the noise of a whole pipeline.
"""

from __future__ import annotations

import asyncio
import gc
import time

from reactivex import operators as ops
from workload import make_events

from reagents import Agent, AgentEvent, DeadLetter, each
from reagents.delivery import Ack
from reagents.pipelines.deliveries import Delivery
from reagents.pipelines.runner import AgentRunner


class _Host:
    """A runner host that only settles what it is given."""

    def emit(self, events: list[AgentEvent], ack: Ack, depth: int) -> None:
        """Reactions are not routed here."""

    def dead_letter(self, letter: DeadLetter) -> None:
        """Nothing fails here."""

    def finished(self, delivery: Delivery) -> None:
        delivery.ack.release()


def _nothing(event: AgentEvent) -> None:
    return None


def _release() -> None:
    return None


def _same(event: AgentEvent) -> AgentEvent:
    return event


def bench_flow_stage(count: int, rounds: int) -> tuple[list[float], list[float]]:
    """µs per delivery to hand ``count`` deliveries to a runner: no flow, then a flow."""
    events = make_events(count)

    async def hand_over(flow: bool) -> float:
        steps = [each(ops.map(_same))] if flow else None
        runner = AgentRunner(Agent(_nothing, id="a", flow=steps), _Host())
        if runner.flow is not None:
            runner.flow.start()
        deliveries = [Delivery(e, Ack(_release), 0) for e in events]
        gc.collect()
        started = time.process_time()
        for delivery in deliveries:
            runner.submit(delivery)
        return (time.process_time() - started) / count * 1e6

    plain: list[float] = []
    flowing: list[float] = []
    for _ in range(rounds):
        plain.append(asyncio.run(hand_over(False)))
        flowing.append(asyncio.run(hand_over(True)))
    return plain, flowing
