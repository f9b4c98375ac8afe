"""`ModelBudget`: requests/min, tokens/min and calls in flight shared by LLM agents.

Every test runs on a virtual-time loop (looptime), so a minute of pacing takes
milliseconds and the recorded start times are exact.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest
from pydantic import ValidationError

from reagents import ModelBudget
from reagents.testing import run_in_virtual_time


def loop_clock() -> Callable[[], float]:
    return asyncio.get_running_loop().time


def most_in_any_window(starts: list[float], window: float) -> int:
    """The most start times that fall in any half-open window ``[t, t + window)``."""
    starts = sorted(starts)
    most, first = 0, 0
    for last, time in enumerate(starts):
        while starts[first] <= time - window:
            first += 1
        most = max(most, last - first + 1)
    return most


async def agents(count: int, work: list[Callable[[], Awaitable[None]]]) -> None:
    """``count`` concurrent agents taking jobs from ``work`` until it is empty."""

    async def agent() -> None:
        while work:
            await work.pop(0)()

    await asyncio.gather(*(agent() for _ in range(count)))


def test_ten_agents_push_a_thousand_calls_through_600_a_minute_at_10_a_second() -> None:
    starts: list[float] = []

    async def main() -> ModelBudget:
        budget = ModelBudget(requests_per_minute=600, clock=loop_clock())

        async def one_call() -> None:
            async with budget.call("openai:gpt-4o"):
                starts.append(asyncio.get_running_loop().time())
                await asyncio.sleep(0.5)  # the model answering

        await agents(10, [one_call for _ in range(1000)])
        return budget

    budget = run_in_virtual_time(main())
    burst = 10  # the bucket holds one second of the limit
    assert len(starts) == budget.calls == 1000
    assert most_in_any_window(starts, 60.0) <= 600 + burst
    assert most_in_any_window(starts, 1.0) <= 10 + burst
    rate = (len(starts) - 1) / (max(starts) - min(starts))
    assert rate == pytest.approx(10.0, rel=0.02)  # 999 calls in 99 s: 10.09/s
    assert budget.waiting == budget.in_use == 0


def test_used_corrects_the_estimate_and_the_excess_is_waited_off() -> None:
    starts: list[float] = []

    async def main() -> ModelBudget:
        # 6,000 tokens/min: 100 a second, a bucket of 100.
        budget = ModelBudget(tokens_per_minute=6000, clock=loop_clock())

        async def one_call() -> None:
            async with budget.call("m", tokens=50) as lease:
                starts.append(asyncio.get_running_loop().time())
                await asyncio.sleep(0.1)
                lease.used(150)  # the answer was longer than estimated

        await agents(4, [one_call for _ in range(30)])
        return budget

    budget = run_in_virtual_time(main())
    assert budget.tokens == 30 * 150
    # 150 tokens a call at 100 tokens/s: 1.5 s a call once the first burst is spent.
    assert (len(starts) - 1) / (max(starts) - min(starts)) == pytest.approx(1 / 1.5, rel=0.05)
    for window in (1.0, 10.0, 60.0):
        assert most_in_any_window(starts, window) * 150 <= 100 * window + 100 + 150


def test_a_refund_lets_the_next_call_in_sooner() -> None:
    async def main() -> list[float]:
        budget = ModelBudget(tokens_per_minute=600, clock=loop_clock())  # 10/s, bucket 10
        loop = asyncio.get_running_loop()
        async with budget.call("m", tokens=10) as lease:
            lease.used(2)  # 8 tokens come back
        async with budget.call("m", tokens=8):
            second = loop.time()
        async with budget.call("m", tokens=10):
            third = loop.time()
        return [second, third]

    second, third = run_in_virtual_time(main())
    assert second == 0.0
    assert third == pytest.approx(1.0, abs=1e-5)


def test_a_call_bigger_than_the_bucket_goes_through_and_leaves_a_debt() -> None:
    async def main() -> list[float]:
        budget = ModelBudget(tokens_per_minute=600, clock=loop_clock())  # 10/s, bucket 10
        loop = asyncio.get_running_loop()
        times = []
        for tokens in (50, 1):
            async with budget.call("m", tokens=tokens):
                times.append(loop.time())
        return times

    assert run_in_virtual_time(main()) == pytest.approx([0.0, 4.1], abs=1e-5)


def test_max_concurrent_calls_is_never_exceeded_and_waiters_go_in_order() -> None:
    order: list[int] = []
    most = 0

    async def main() -> float:
        nonlocal most
        budget = ModelBudget(max_concurrent_calls=3, clock=loop_clock())

        async def one_call(number: int) -> None:
            nonlocal most
            async with budget.call("m"):
                order.append(number)
                most = max(most, budget.in_use)
                await asyncio.sleep(1.0)

        tasks = []
        for number in range(20):
            tasks.append(asyncio.create_task(one_call(number)))
            await asyncio.sleep(0)  # arrive in order
        await asyncio.gather(*tasks)
        return asyncio.get_running_loop().time()

    elapsed = run_in_virtual_time(main())
    assert most == 3
    assert order == list(range(20))
    assert elapsed == pytest.approx(7.0)  # ceil(20 / 3) rounds of 1 s


def test_a_pause_holds_every_waiting_call_of_that_model_with_jitter() -> None:
    starts: dict[str, list[float]] = {"a": [], "b": []}

    async def main() -> ModelBudget:
        budget = ModelBudget(
            requests_per_minute=60_000, jitter=0.1, clock=loop_clock(), rng=random.Random(3)
        )

        async def one_call(model: str) -> None:
            async with budget.call(model):
                starts[model].append(asyncio.get_running_loop().time())

        budget.pause("a", 5.0)
        budget.pause("a", 1.0)  # pauses never shorten
        assert budget.paused_until("a") == 5.0
        assert budget.paused_until("b") is None
        await asyncio.gather(*(one_call(model) for model in ["a"] * 20 + ["b"] * 3))
        return budget

    budget = run_in_virtual_time(main())
    assert budget.pauses == 2
    assert all(5.0 <= start <= 5.0 * 1.1 for start in starts["a"])
    assert len(set(starts["a"])) > 10  # they do not all retry at once
    assert all(start < 0.1 for start in starts["b"])  # another model is not paused


def test_a_pause_reaches_calls_already_waiting_and_extends_a_running_pause() -> None:
    async def main() -> list[float]:
        budget = ModelBudget(max_concurrent_calls=1, jitter=0.1, clock=loop_clock())
        loop = asyncio.get_running_loop()
        starts: list[float] = []

        async def one_call() -> None:
            async with budget.call("a"):
                starts.append(loop.time())
                await asyncio.sleep(1.0)

        tasks = [asyncio.create_task(one_call()) for _ in range(3)]
        await asyncio.sleep(0.5)  # one call runs, two wait for the slot
        assert budget.waiting == 2
        budget.pause("a", 5.0)  # until 5.5
        await asyncio.sleep(2.0)
        budget.pause("a", 10.0)  # at 2.5: until 12.5
        assert budget.paused_until("a") == pytest.approx(12.5)
        await asyncio.gather(*tasks)
        return starts

    starts = run_in_virtual_time(main())
    assert starts[0] == 0.0
    assert 12.5 <= starts[1] <= 12.5 + 1.0  # jitter: up to 0.1 x 10 s
    assert starts[2] >= starts[1] + 1.0  # then the slot is still one


def test_a_cancelled_waiter_leaves_the_queue_and_frees_nothing_it_did_not_take() -> None:
    async def main() -> tuple[int, int]:
        budget = ModelBudget(requests_per_minute=60, clock=loop_clock())  # 1/s, bucket 1
        async with budget.call("m"):
            pass
        waiter = asyncio.create_task(budget.call("m").__aenter__())
        await asyncio.sleep(0.5)
        waiting = budget.waiting
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return waiting, budget.waiting

    assert run_in_virtual_time(main()) == (1, 0)


def test_an_unlimited_budget_only_counts() -> None:
    async def main() -> ModelBudget:
        budget = ModelBudget(clock=loop_clock())
        for _ in range(100):
            async with budget.call("m", tokens=7) as lease:
                lease.used(5)
        return budget

    budget = run_in_virtual_time(main())
    assert budget.limits.unlimited
    assert (budget.calls, budget.tokens, budget.waited_seconds) == (100, 500, 0.0)


def test_share_divides_every_limit_among_worker_processes() -> None:
    budget = ModelBudget(600, 90_000, 8, jitter=0.2)
    share = budget.share(4)
    limits = share.limits
    assert (limits.requests_per_minute, limits.tokens_per_minute) == (150, 22_500)
    assert (limits.max_concurrent_calls, limits.jitter) == (2, 0.2)
    assert ModelBudget(tokens_per_minute=1000).share(3).limits.max_concurrent_calls is None
    with pytest.raises(ValueError, match="cannot share max_concurrent_calls=8 among 9"):
        budget.share(9)
    with pytest.raises(ValueError, match="workers must be >= 1"):
        budget.share(0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"requests_per_minute": 0}, "requests_per_minute\n  Input should be greater than 0"),
        ({"tokens_per_minute": -5}, "tokens_per_minute\n  Input should be greater than 0"),
        ({"max_concurrent_calls": 0}, "max_concurrent_calls\n  Input should be greater than"),
        ({"jitter": 1.5}, "jitter\n  Input should be less than or equal to 1"),
        ({"burst_seconds": 0}, "burst_seconds\n  Input should be greater than 0"),
    ],
)
def test_config_errors_name_the_setting(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ModelBudget(**kwargs)  # type: ignore[arg-type]


def test_call_and_pause_arguments_are_checked() -> None:
    budget = ModelBudget(requests_per_minute=60)
    with pytest.raises(ValueError, match="tokens must be >= 0, got -1"):
        budget.call("m", tokens=-1)
    with pytest.raises(ValueError, match="pause must be a finite number of seconds"):
        budget.pause("m", float("nan"))
    with pytest.raises(ValueError, match="pause must be a finite number of seconds"):
        budget.pause("m", -1.0)


def test_a_call_granted_then_cancelled_gives_its_slot_and_tokens_back() -> None:
    async def main() -> tuple[int, int, float]:
        budget = ModelBudget(60, 600, 1, clock=loop_clock())  # 1 request/s, 10 tokens/s
        holder = budget.call("m", tokens=1)
        await holder.__aenter__()
        waiter = asyncio.create_task(budget.call("m", tokens=5).__aenter__())
        await asyncio.sleep(2.0)  # a request and the tokens are there; the slot is not
        await holder.__aexit__(None, None, None)  # grants the waiter...
        waiter.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiter
        loop = asyncio.get_running_loop()
        async with budget.call("m", tokens=10):  # the refunded request and tokens
            started = loop.time()
        return budget.in_use, budget.calls, started

    assert run_in_virtual_time(main()) == (0, 2, 2.0)
