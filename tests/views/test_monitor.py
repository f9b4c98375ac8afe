"""StatsRecorder: samples of a pipeline's stats over time, as rows, series and a plot."""

from __future__ import annotations

import asyncio
import sys

import pytest

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.stats import AgentStats, StatsTable
from reagents.sinks.memory import MemoryDeadLetters
from reagents.views.monitor import StatsRecorder


class FakePipeline:
    """Stats we set by hand, so samples are exact."""

    def __init__(self) -> None:
        self.agents: dict[str, AgentStats] = {"slow": AgentStats()}
        self.queued = 0
        self.in_flight = 0

    def stats(self) -> StatsTable:
        return StatsTable(
            {name: stats.snapshot(name, self.queued) for name, stats in self.agents.items()}
        )


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_samples_count_time_from_the_first_sample(clock: Clock) -> None:
    fake = FakePipeline()
    recorder = StatsRecorder(fake, clock=clock)
    recorder.sample()
    clock.now, fake.queued, fake.in_flight = 100.5, 7, 8
    fake.agents["slow"].in_flight = 1
    recorder.sample()
    assert [(s.t, s.in_flight) for s in recorder.samples] == [(0.0, 0), (0.5, 8)]
    assert recorder.series("slow", "queue_depth") == ([0.0, 0.5], [0.0, 7.0])
    assert recorder.series("slow", "in_flight") == ([0.0, 0.5], [0.0, 1.0])


def test_rows_are_flat_one_per_sample_and_agent(clock: Clock) -> None:
    fake = FakePipeline()
    recorder = StatsRecorder(fake, clock=clock)
    recorder.sample()
    fake.agents["late"] = AgentStats(received=3, processed=2)
    clock.now = 101.0
    recorder.sample()
    rows = recorder.to_rows()
    assert [(r["t"], r["name"]) for r in rows] == [(0.0, "slow"), (1.0, "slow"), (1.0, "late")]
    assert rows[2]["received"] == 3
    assert rows[2]["processed"] == 2
    assert rows[2]["pipeline_in_flight"] == 0
    assert recorder.agents() == ["slow", "late"]
    assert recorder.series("late", "received") == ([1.0], [3.0])


def test_memory_is_bounded_by_max_samples(clock: Clock) -> None:
    recorder = StatsRecorder(FakePipeline(), max_samples=3, clock=clock)
    for second in range(5):
        clock.now = 100.0 + second
        recorder.sample()
    assert [s.t for s in recorder.samples] == [2.0, 3.0, 4.0]


def test_unknown_fields_are_named_in_the_error(clock: Clock) -> None:
    recorder = StatsRecorder(FakePipeline(), clock=clock)
    recorder.sample()
    with pytest.raises(KeyError, match=r"no stats field 'queue'.*queue_depth"):
        recorder.series("slow", "queue")


@pytest.mark.parametrize(
    ("interval", "max_samples", "message"),
    [(0, 10, "interval must be positive"), (0.1, 1, "max_samples must be at least 2")],
)
def test_limits_are_validated(interval: float, max_samples: int, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        StatsRecorder(FakePipeline(), interval, max_samples=max_samples)


async def test_records_a_running_pipeline_from_start_to_end() -> None:
    pipeline = Pipeline("monitored", dead_letters=MemoryDeadLetters())
    release = asyncio.Event()

    @pipeline.agent("slow", subscription="type = job")
    async def slow(event: AgentEvent) -> None:
        await release.wait()

    for _ in range(5):
        pipeline.publish(AgentEvent(event_type="job"))
    recorder = StatsRecorder(pipeline, interval=0.001)
    async with recorder:
        running = asyncio.create_task(pipeline.run())
        while pipeline.stats()["slow"].in_flight < 1:
            await asyncio.sleep(0)
        recorder.sample()
        release.set()
        await running
    _, queued = recorder.series("slow", "queue_depth")
    assert queued[0] == 0
    assert max(queued) == 4
    assert queued[-1] == 0
    assert recorder.samples[-1].agents["slow"].processed == 5
    assert recorder.samples[-1].in_flight == 0


async def test_a_recorder_cannot_be_entered_twice() -> None:
    recorder = StatsRecorder(FakePipeline())
    async with recorder:
        with pytest.raises(RuntimeError, match="already recording"):
            await recorder.__aenter__()


@pytest.fixture
def no_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.mark.usefixtures("no_matplotlib")
def test_plot_without_matplotlib_says_which_extra_to_install(clock: Clock) -> None:
    recorder = StatsRecorder(FakePipeline(), clock=clock)
    recorder.sample()
    with pytest.raises(ImportError, match=r"pip install 'reagents\[notebooks\]'"):
        recorder.plot()


def test_plot_draws_one_subplot_per_field_and_one_line_per_agent(clock: Clock) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy

    fake = FakePipeline()
    fake.agents["other"] = AgentStats()
    recorder = StatsRecorder(fake, clock=clock)
    recorder.sample()
    clock.now, fake.queued = 101.0, 3
    recorder.sample()
    figure = recorder.plot(fields=("queue_depth", "in_flight"))
    try:
        assert len(figure.axes) == 2
        assert [line.get_label() for line in figure.axes[0].lines] == ["slow", "other"]
        assert numpy.asarray(figure.axes[0].lines[0].get_ydata()).tolist() == [0.0, 3.0]
    finally:
        plt.close(figure)
