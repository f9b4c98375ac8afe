"""Property: whatever the calls, their sizes, corrections and pauses, `ModelBudget`
never lets more through than its buckets allow over any window, nor more calls in
flight than its limit.

The check is the bucket's own bound. A bucket holds at most ``capacity`` and refills
at most ``rate * (b - a)`` between ``a`` and ``b``; a call of ``n`` tokens starts only
when ``min(n, capacity)`` are there. So for every call starting at ``b`` and every
earlier moment ``a``: the tokens charged in ``[a, b)`` (starts and corrections, refunds
counted off) plus ``min(n, capacity)`` are at most ``capacity + rate * (b - a)``.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reagents import ModelBudget
from reagents.testing import run_in_virtual_time

EPSILON = 1e-6


@dataclass(frozen=True)
class Call:
    gap: float  # seconds after the previous call arrives
    model: str
    estimate: int
    actual: int | None  # what lease.used reports, if it is called
    duration: float
    pause: float | None  # a 429 reported for the model just before this call arrives


calls = st.lists(
    st.builds(
        Call,
        gap=st.floats(0.0, 3.0),
        model=st.sampled_from(["a", "b"]),
        estimate=st.integers(0, 3000),
        actual=st.none() | st.integers(0, 4000),
        duration=st.floats(0.0, 5.0),
        pause=st.none() | st.floats(0.0, 10.0),
    ),
    max_size=40,
)
limits = st.fixed_dictionaries(
    {
        "requests_per_minute": st.none() | st.floats(1.0, 600.0),
        "tokens_per_minute": st.none() | st.floats(100.0, 50_000.0),
        "max_concurrent_calls": st.none() | st.integers(1, 4),
        "burst_seconds": st.floats(0.5, 20.0),
    }
)

# The bucket operations in their true order. Callers resume in the order they were
# admitted, so starts are noted in order; a correction is noted with the number of
# calls admitted before it (`ModelBudget.calls` counts at admission) and goes after
# that many starts.
Entry = tuple[float, float, bool]  # (time, tokens, is a start)


@dataclass
class Ledger:
    starts: list[tuple[float, int]] = field(default_factory=list)
    corrections: list[tuple[int, float, int]] = field(default_factory=list)

    def in_order(self) -> list[Entry]:
        after: dict[int, list[Entry]] = {}
        for admitted, time, delta in self.corrections:
            after.setdefault(admitted, []).append((time, float(delta), False))
        entries: list[Entry] = []
        for number, (time, tokens) in enumerate(self.starts, start=1):
            entries.append((time, float(tokens), True))
            entries.extend(after.get(number, []))
        return entries


def run(
    calls: list[Call], limits: dict[str, float | int | None]
) -> tuple[ModelBudget, Ledger, int]:
    ledger = Ledger()
    most = 0

    async def main() -> ModelBudget:
        nonlocal most
        loop = asyncio.get_running_loop()
        budget = ModelBudget(**limits, clock=loop.time, rng=random.Random(0))  # type: ignore[arg-type]

        async def one(call: Call) -> None:
            nonlocal most
            async with budget.call(call.model, tokens=call.estimate) as lease:
                ledger.starts.append((lease.started_at, call.estimate))
                most = max(most, budget.in_use)
                await asyncio.sleep(call.duration)
                if call.actual is not None:
                    delta = call.actual - call.estimate
                    ledger.corrections.append((budget.calls, loop.time(), delta))
                    lease.used(call.actual)

        tasks = []
        for call in calls:
            await asyncio.sleep(call.gap)
            if call.pause is not None:
                budget.pause(call.model, call.pause)
            tasks.append(asyncio.create_task(one(call)))
        await asyncio.gather(*tasks)
        return budget

    return run_in_virtual_time(main()), ledger, most


def within_bucket(entries: list[Entry], rate: float, capacity: float) -> None:
    """``entries``: (time, amount, is_start) in bucket order; assert the bucket's bound."""
    for k, (end, size, is_start) in enumerate(entries):
        if not is_start:
            continue
        charged = min(size, capacity)
        for i in range(k - 1, -1, -1):
            charged += entries[i][1]
            allowed = capacity + rate * (end - entries[i][0])
            assert charged <= allowed + EPSILON * (1 + allowed), (k, i, charged, allowed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=calls, limits=limits)
def test_no_window_ever_gets_more_than_the_budget_allows(
    calls: list[Call], limits: dict[str, float | int | None]
) -> None:
    budget, ledger, most = run(calls, limits)
    assert budget.calls == len(calls)
    assert budget.in_use == budget.waiting == 0
    concurrent = limits["max_concurrent_calls"]
    if concurrent is not None:
        assert most <= concurrent
    entries = ledger.in_order()
    burst = float(limits["burst_seconds"] or 0)
    rpm = limits["requests_per_minute"]
    if rpm is not None:
        starts = [(time, 1.0, True) for time, _, is_start in entries if is_start]
        within_bucket(starts, rpm / 60, max(1.0, rpm * burst / 60))
    tpm = limits["tokens_per_minute"]
    if tpm is not None:
        within_bucket(entries, tpm / 60, max(1.0, tpm * burst / 60))
