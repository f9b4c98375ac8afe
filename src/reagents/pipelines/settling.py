"""`WorkInFlight`: is a pipeline's work done, and how to settle what is left.

Work is in flight while deliveries are unfinished (agents' queues, handlers, retries,
flows) or events wait in the inbox. At the end of the input (or on `stop`) the run
settles: it waits for the agents, and flushes flows that wait for input that will not
come, upstream first. Sources ask `only_flows_hold` to know when a window of theirs
must read on.
"""

from __future__ import annotations

import asyncio
import logging

from reagents.pipelines.bus import Bus
from reagents.sources.memory import MemorySource

__all__ = ["WorkInFlight"]

logger = logging.getLogger(__name__)


class WorkInFlight:
    """The work a pipeline has in flight: its bus's deliveries and its inbox."""

    def __init__(self, name: str, bus: Bus, inbox: MemorySource) -> None:
        self.name = name
        self._bus = bus
        self.inbox = inbox

    async def wait_idle(self) -> None:
        """Return once nothing is in flight and the inbox is empty."""
        while not self.idle():
            await self._bus.flow.wait_idle()
            await asyncio.sleep(0)  # the inbox pump takes what was published meanwhile

    def idle(self) -> bool:
        """Nothing in flight and nothing waiting in the inbox."""
        return self._bus.flow.idle and len(self.inbox) == 0

    def only_flows_hold(self) -> bool:
        """Work is in flight, and only agents' flows hold it (they wait for input)."""
        return (
            not self._bus.flow.idle
            and len(self.inbox) == 0
            and all(r.idle for r in self._bus.runners())
        )

    async def settle(self, drain_timeout: float) -> None:
        """Return once nothing is in flight and the inbox is empty.

        When only agents' flows still hold work (every runner idle), the first flow
        that holds input (in the order agents were added) is flushed, and nothing else
        until it holds none: a flow downstream is flushed only after what the upstream
        flush produced reached it. Flows that only hold joined events (a
        `with_latest_from`'s latest) are flushed last. If nothing moves for the drain
        timeout once every holding flow was flushed, the run ends without
        acknowledging what is left (a flow that failed), saying so.
        """
        flow = self._bus.flow
        runners = self._bus.runners()
        stages = [r.flow for r in runners if r.flow is not None]
        if not stages:
            await self.wait_idle()
            return
        flushed: set[int] = set()  # since the last change of the in-flight count
        while not self.idle():
            if len(self.inbox) and flow.has_room:  # its pump takes them (a match or not)
                await asyncio.sleep(0)
                continue
            waiting = flow.changed()
            if len(self.inbox) == 0 and all(r.idle for r in runners):
                holding = [s for s in stages if s.holds > 0] or [
                    s for s in stages if s.side_holds > 0
                ]
                fresh = [s for s in holding[:1] if id(s) not in flushed]
                if fresh:
                    waiting.cancel()
                    flushed.add(id(fresh[0]))
                    fresh[0].flush()
                    continue
                try:  # flushed flows still hold values their timers will send (throttle)
                    await asyncio.wait_for(asyncio.shield(waiting), drain_timeout)
                except TimeoutError:
                    self._leaked(flow.in_flight)
                    return
            else:
                await waiting
            flushed.clear()

    def _leaked(self, count: int) -> None:
        logger.error(
            "pipeline %s: %d deliveries in flight that no agent, queue or flow holds (a "
            "flow failed?); ending without acknowledging them (they will be delivered again)",
            *(self.name, count),
        )

    async def drain(self, drain_timeout: float) -> None:
        """Settle for up to ``drain_timeout`` seconds; then give up, saying so."""
        flow = self._bus.flow
        if self.idle():
            return
        try:
            await asyncio.wait_for(self.settle(drain_timeout), drain_timeout)
        except TimeoutError:
            logger.warning(
                "pipeline %s: %d deliveries still in flight after %.1fs; stopping without "
                "acknowledging them (they will be delivered again)",
                *(self.name, flow.in_flight, drain_timeout),
            )
