"""Take an agent out of a running pipeline without losing or early-acking its work.

The agent leaves the router at once (no new event reaches it, addressed ones neither),
while its runner goes on: what waits in its queue, its handlers and its retries finish
or are dead-lettered as usual, a flow's open windows are flushed, and each delivery
releases its source record exactly as it would have. Then the runner stops and the
bus forgets it (its stats with it).
"""

from __future__ import annotations

import asyncio

from reagents.pipelines.bus import Bus
from reagents.pipelines.runner import AgentRunner
from reagents.sinks.agent import Agent

__all__ = ["retire"]

_LOOK_EVERY = 0.05  # seconds: a retry timer firing moves no in-flight count; look anyway


async def retire(bus: Bus, agent_id: str) -> Agent:
    """Stop routing to ``agent_id``, wait until its work is done, forget it; the agent.

    If the wait is cancelled the agent stays retired (it finishes its work, the end of
    the run stops it); calling this again waits for it again.
    """
    runner = bus.retiring.get(agent_id) or bus.retire_agent(agent_id)
    await _drained(bus, runner)
    await runner.stop()
    bus.forget_agent(agent_id)
    return runner.agent


async def _drained(bus: Bus, runner: AgentRunner) -> None:
    """Return once ``runner`` holds no work (or was stopped: the pipeline ended)."""
    flushed = False
    while runner.running:
        stage = runner.flow
        if runner.idle:
            if stage is None or stage.holds + stage.side_holds == 0:
                return
            if not flushed:  # its windows wait for input that will not come now
                stage.flush()
                flushed = True
                continue
        try:
            await asyncio.wait_for(bus.flow.changed(), _LOOK_EVERY)
            flushed = False
        except TimeoutError:
            pass
