"""`StatsRecorder`: sample a running pipeline's stats over time, for tables and plots.

``pipeline.stats()`` is one moment; to see a queue fill up under a burst and drain
again, sample it periodically while the pipeline runs::

    async with StatsRecorder(pipeline, interval=0.02) as recorder:
        await pipeline.run()
    recorder.plot()                  # queue depth, in flight, p99 latency per agent
    rows = recorder.to_rows()        # one dict per (sample, agent), e.g. for pandas

Sampling is cheap (a snapshot of counters) and runs as one asyncio task beside the
pipeline. Memory is bounded: only the last ``max_samples`` samples are kept.
matplotlib is imported only by `StatsRecorder.plot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self

from reagents.errors import ConfigurationError
from reagents.extras import MissingExtraError
from reagents.pipelines.stats import StatsSnapshot, StatsTable

if TYPE_CHECKING:
    from matplotlib.figure import Figure  # type: ignore[import-not-found, unused-ignore]

__all__ = ["PLOT_FIELDS", "Monitored", "Row", "StatsRecorder", "StatsSample"]

Row = dict[str, str | int | float]
PLOT_FIELDS = ("queue_depth", "in_flight", "latency_p99_ms")
_TITLES = {
    "queue_depth": "queued events",
    "in_flight": "in flight (being handled)",
    "latency_p50_ms": "latency p50 (ms)",
    "latency_p99_ms": "latency p99 (ms)",
    "latency_p999_ms": "latency p99.9 (ms)",
    "queued_p99_ms": "waiting p99 (ms)",
    "handling_p99_ms": "handling p99 (ms)",
}


class Monitored(Protocol):
    """What the recorder reads: a `Pipeline`, or anything with the same two members."""

    def stats(self) -> StatsTable: ...

    @property
    def in_flight(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StatsSample:
    """The stats of every agent and sink at ``t`` seconds after recording started."""

    t: float
    in_flight: int
    """Deliveries in flight in the whole pipeline (`Pipeline.in_flight`)."""
    agents: StatsTable


class StatsRecorder:
    """Samples ``pipeline.stats()`` every ``interval`` seconds while used as ``async with``.

    A sample is taken on entering, every ``interval`` seconds, and on leaving, so even
    a run shorter than ``interval`` gives a first and a last point. `sample` takes
    one by hand (tests, or code that drives time itself).
    """

    def __init__(
        self,
        pipeline: Monitored,
        interval: float = 0.05,
        *,
        max_samples: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not interval > 0:
            raise ConfigurationError(f"interval must be positive seconds, got {interval!r}")
        if max_samples < 2:
            raise ConfigurationError(f"max_samples must be at least 2, got {max_samples!r}")
        self.pipeline = pipeline
        self.interval = interval
        self._clock = clock
        self._start: float | None = None
        self._samples: deque[StatsSample] = deque(maxlen=max_samples)
        self._task: asyncio.Task[None] | None = None

    @property
    def samples(self) -> list[StatsSample]:
        """The samples kept so far, oldest first."""
        return list(self._samples)

    def sample(self) -> StatsSample:
        """Take one sample now (time 0 is the first sample)."""
        now = self._clock()
        if self._start is None:
            self._start = now
        taken = StatsSample(now - self._start, self.pipeline.in_flight, self.pipeline.stats())
        self._samples.append(taken)
        return taken

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("this StatsRecorder is already recording")
        self.sample()
        self._task = asyncio.create_task(self._record(), name="reagents:stats-recorder")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.sample()

    async def _record(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.sample()

    def agents(self) -> list[str]:
        """Every agent and sink seen in any sample, in first-seen order."""
        return list(dict.fromkeys(name for s in self._samples for name in s.agents))

    def series(self, agent: str, field: str) -> tuple[list[float], list[float]]:
        """Times and values of one `StatsSnapshot` field of one agent (plot-ready)."""
        if field not in StatsSnapshot.__dataclass_fields__ or field == "name":
            known = ", ".join(f for f in StatsSnapshot.__dataclass_fields__ if f != "name")
            raise KeyError(f"no stats field {field!r}; fields are {known}")
        kept = [s for s in self._samples if agent in s.agents]
        return [s.t for s in kept], [float(getattr(s.agents[agent], field)) for s in kept]

    def to_rows(self) -> list[Row]:
        """One flat dict per (sample, agent): ``t``, ``pipeline_in_flight`` and the stats."""
        rows: list[Row] = []
        for taken in self._samples:
            for snapshot in taken.agents.values():
                row: Row = {"t": taken.t, "pipeline_in_flight": taken.in_flight}
                row.update(asdict(snapshot))
                rows.append(row)
        return rows

    def plot(self, fields: Sequence[str] = PLOT_FIELDS, agents: Sequence[str] = ()) -> Figure:
        """One matplotlib subplot per field, one line per agent (needs matplotlib)."""
        try:
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise MissingExtraError(
                "StatsRecorder.plot needs matplotlib: pip install 'reagents[notebooks]'"
            ) from error
        names = list(agents) or self.agents()
        figure, axes = plt.subplots(
            len(fields), 1, sharex=True, squeeze=False, figsize=(8, 2.2 * len(fields))
        )
        for axis, field in zip(axes[:, 0], fields, strict=True):
            for name in names:
                axis.step(*self.series(name, field), where="post", label=name)
            axis.set_ylabel(_TITLES.get(field, field))
            axis.grid(alpha=0.3)
        axes[0, 0].legend(loc="upper right", fontsize="small")
        axes[-1, 0].set_xlabel("seconds since recording started")
        figure.tight_layout()
        return figure
