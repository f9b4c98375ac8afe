"""Agent limits in the runtime: the rate limit's token bucket and the handler timeout."""

from __future__ import annotations

import asyncio
import time

import pytest

from reagents import AgentEvent, Backoff, FailureStage, MemoryDeadLetters, Pipeline, RateLimit
from reagents.policies import TokenBucket


def test_the_bucket_grants_a_burst_then_one_token_per_interval() -> None:
    bucket = TokenBucket(RateLimit(rate=2, per=1.0, burst=2), now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.5]
    assert bucket.take(0.5) == 0.0
    assert bucket.take(0.75) == pytest.approx(0.25)
    assert bucket.take(1.0) == 0.0


def test_the_bucket_refills_while_idle_but_not_beyond_its_burst() -> None:
    bucket = TokenBucket(RateLimit(rate=10, per=1.0, burst=3), now=0.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]  # a long idle spell
    assert bucket.take(100.0) == pytest.approx(0.1)


def test_a_wait_always_yields_a_whole_token() -> None:
    bucket = TokenBucket(RateLimit(rate=3, per=1.0, burst=1), now=0.0)
    now = 0.0
    assert bucket.take(now) == 0.0
    for _ in range(1000):  # float drift never leaves the token a hair short
        wait = bucket.take(now)
        assert 0.333333 <= wait <= 0.333334
        now += wait
        assert bucket.take(now) == 0.0


async def test_a_rate_limited_agent_is_paced_not_dropped() -> None:
    pipeline = Pipeline("paced", dead_letters=MemoryDeadLetters())
    handled: list[float] = []

    @pipeline.agent(rate=RateLimit(rate=50, per=1.0, burst=1), max_concurrent=3)
    async def llm(e: AgentEvent) -> None:
        handled.append(time.monotonic())

    for n in range(6):
        pipeline.publish(AgentEvent(event_type="prompt", payload={"n": n}))
    started = time.monotonic()
    await pipeline.run()
    assert len(handled) == 6
    assert handled[-1] - started >= 5 * 0.02 * 0.9  # five waits of 1/50 s, at least


async def test_a_handler_over_its_timeout_fails_and_is_dead_lettered() -> None:
    letters = MemoryDeadLetters()
    pipeline = Pipeline("slow", dead_letters=letters)

    @pipeline.agent(timeout=0.02, retry=Backoff(max_retries=1, initial=0.001, max_delay=0.001))
    async def stuck(e: AgentEvent) -> None:
        await asyncio.sleep(10)

    pipeline.publish(AgentEvent(event_type="job"))
    await asyncio.wait_for(pipeline.run(), 5)
    [letter] = letters.letters
    assert letter.stage is FailureStage.AGENT
    assert letter.error_type == "TimeoutError"
    assert letter.attempts == 2


def test_limits_are_validated_at_declaration() -> None:
    with pytest.raises(ValueError, match="rate"):
        RateLimit(rate=0)
