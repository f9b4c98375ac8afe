"""Whole pipelines in virtual time: windows, retries, timeouts and rate limits, no sleeps.

Every timer of a pipeline runs on its event loop's clock: flow windows and debounces
(`LoopScheduler`), retry backoff (``loop.call_later``), handler timeouts and rate limits
(``asyncio`` waits), saga step timeouts. `run_in_virtual_time` runs a coroutine on a
looptime event loop, whose clock jumps ahead whenever nothing is ready to run, so a
five-minute window with three retries takes milliseconds and always the same virtual
time. `play` publishes events at given virtual times and records what the pipeline
put on its bus, and when, as a `Timeline` that renders as a marble diagram::

    async def scenario() -> Timeline:
        pipeline = build()
        return await play(pipeline, [(0, tick), (30, tick), (400, tick)])

    timeline = run_in_virtual_time(scenario())
    assert timeline.marbles({"d": "digest"}, tick=60) == "-----d-----d"

Needs the ``testing`` extra (``pip install 'reagents[testing]'``: looptime).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reagents.events import AgentEvent
from reagents.extras import MissingExtraError
from reagents.pipelines.pipeline import Pipeline

__all__ = ["Timeline", "play", "run_in_virtual_time"]

T = TypeVar("T")


def run_in_virtual_time(
    main: Coroutine[Any, Any, T], *, start: float = 0.0, noop_cycles: int = 42
) -> T:
    """Run ``main`` to the end on an event loop whose clock is virtual, starting at ``start``.

    The clock jumps to the next timer once the loop has gone ``noop_cycles`` turns with
    nothing to do (looptime's setting: fewer is faster with many distinct event times,
    more is safer with I/O). Called where a loop already runs (Jupyter, an async test),
    the virtual loop runs in a worker thread and this call waits for it.
    """
    try:
        import looptime
    except ImportError as error:  # pragma: no cover - depends on the installed extras
        raise MissingExtraError(
            "virtual time needs looptime: pip install 'reagents[testing]'"
        ) from error

    def run() -> T:
        loop = looptime.new_event_loop(start=start, noop_cycles=noop_cycles)
        try:
            return loop.run_until_complete(main)
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run()
    with concurrent.futures.ThreadPoolExecutor(1, "reagents-virtual-time") as worker:
        return worker.submit(run).result()


@dataclass
class Timeline:
    """The events a pipeline routed, each with the loop time (seconds from the start)."""

    start: float
    entries: list[tuple[float, AgentEvent]] = field(default_factory=list)

    def record(self, event: AgentEvent) -> None:
        """Note ``event`` at the current loop time."""
        self.entries.append((asyncio.get_running_loop().time() - self.start, event))

    def of_type(self, event_type: str) -> list[tuple[float, AgentEvent]]:
        """The entries of one event type, in order."""
        return [(at, event) for at, event in self.entries if event.event_type == event_type]

    def times(self, event_type: str) -> list[float]:
        """When events of ``event_type`` were routed."""
        return [round(at, 6) for at, _ in self.of_type(event_type)]

    def marbles(
        self,
        names: Mapping[str, str | Callable[[AgentEvent], bool]],
        *,
        tick: float = 1.0,
        length: int | None = None,
    ) -> str:
        """A marble diagram: one character per ``tick`` seconds, a letter per event.

        ``names`` maps a letter to an event type (or a predicate); events of no letter
        are left out; several in one tick are grouped as ``(ab)``.
        """
        tests = {
            letter: (lambda e, t=test: e.event_type == t) if isinstance(test, str) else test
            for letter, test in names.items()
        }
        slots: dict[int, list[str]] = {}
        for at, event in self.entries:
            for letter, test in tests.items():
                if test(event):
                    slots.setdefault(int(at // tick + 1e-9), []).append(letter)
        end = max(slots, default=-1) + 1 if length is None else length
        cells = []
        for slot in range(end):
            letters = slots.get(slot, [])
            cells.append(
                "-" if not letters else letters[0] if len(letters) == 1 else f"({''.join(letters)})"
            )
        return "".join(cells)


async def play(
    pipeline: Pipeline, events: Iterable[tuple[float, AgentEvent]], *, settle: float = 0.0
) -> Timeline:
    """Publish each event at its time (seconds from now) and record the bus until idle.

    The pipeline runs as a service; once the last event is published it waits until
    nothing is in flight (windows close on their own clock, retries are retried), and
    ``settle`` seconds more, then stops it. Returns what was routed, and when.
    """
    loop = asyncio.get_running_loop()
    timeline = Timeline(loop.time())
    subscription = pipeline.events.subscribe(timeline.record)
    try:
        async with pipeline.serving():
            for at, event in sorted(events, key=lambda pair: pair[0]):
                await asyncio.sleep(max(0.0, timeline.start + at - loop.time()))
                pipeline.publish(event)
            await pipeline.wait_idle()
            if settle:
                await asyncio.sleep(settle)
    finally:
        subscription.dispose()
    return timeline
