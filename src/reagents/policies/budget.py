"""`ModelBudget`: the model limits every LLM agent of a pipeline shares.

A provider limits requests per minute, tokens per minute and (in practice) calls in
flight, per account, not per agent; and when it answers 429 with ``Retry-After`` every
call to that model should hold off. One `ModelBudget` per pipeline (or per account)
makes the agents queue for those limits instead of each learning them from 429s.

Requests and tokens are paced by two `TokenBucket` s (the same bucket as `RateLimit`),
concurrency by a counter; waiters are served first come, first served, on asyncio.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from reagents.policies.budget_limits import BudgetLimits

__all__ = ["BudgetLease", "ModelBudget"]


class BudgetLease:
    """One admitted call: what it was admitted with, and `used` to correct its tokens."""

    __slots__ = ("_budget", "model", "started_at", "tokens", "waited")

    def __init__(
        self, budget: ModelBudget, model: str, tokens: int, started: float, waited: float
    ) -> None:
        self._budget = budget
        self.model = model
        self.tokens = tokens  # the tokens charged so far: the estimate, then the actual
        self.started_at = started
        self.waited = waited

    def used(self, tokens: int) -> None:
        """The call really used ``tokens``: charge the excess (into debt) or refund the rest."""
        if tokens < 0:
            raise ValueError(f"tokens used must be >= 0, got {tokens}")
        delta, self.tokens = tokens - self.tokens, tokens
        self._budget._correct(delta)


@dataclass(eq=False)
class _Waiter:
    model: str
    tokens: int
    granted: asyncio.Future[float]
    since: float
    not_before: float = field(default=-math.inf)


class ModelBudget:
    """Shared by every LLM agent of a pipeline: requests/min, tokens/min, concurrent calls.

    ``async with budget.call("openai:gpt-4o", tokens=estimate) as lease:`` waits (never
    fails) until a concurrency slot, a request and ``tokens`` tokens are free and no
    pause of that model is in force; ``lease.used(actual)`` then corrects the estimate.
    A call larger than the token bucket waits for a full bucket and leaves it in debt,
    which later calls wait off. Waiters are served in arrival order (a big call is not
    starved by small ones), except that a paused model's calls let others pass.

    ``pause(model, seconds)`` is for a 429's ``Retry-After``: every call of that model
    waits until then plus a random extra of up to ``jitter * seconds``, drawn per call,
    so they do not all retry at the same instant. Pauses extend, never shorten.

    With no limit at all the budget only counts (``calls``, ``tokens``,
    ``waited_seconds``, ``pauses``) and honours pauses.

    Several worker processes: this budget lives in one process (a cross-process store
    is out of scope), so give each of ``n`` workers ``budget.share(n)``, a budget with
    every limit divided by ``n``; together they stay within the account's limits.

    ``clock`` must tell the event loop's time in seconds (``time.monotonic`` is the
    default loop's clock; pass ``loop.time`` under a virtual-time loop).
    """

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_concurrent_calls: int | None = None,
        *,
        jitter: float = 0.1,
        burst_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.limits = BudgetLimits(
            requests_per_minute=requests_per_minute,
            tokens_per_minute=tokens_per_minute,
            max_concurrent_calls=max_concurrent_calls,
            jitter=jitter,
            burst_seconds=burst_seconds,
        )
        self._clock = clock
        self._rng = rng if rng is not None else random.Random()
        now = clock()
        self._requests = self.limits.bucket(requests_per_minute, now)
        self._tokens = self.limits.bucket(tokens_per_minute, now)
        self._queue: deque[_Waiter] = deque()
        self._pauses: dict[str, tuple[float, float]] = {}  # model -> (until, seconds)
        self._timer: asyncio.TimerHandle | None = None
        self._in_use = 0
        self._calls = 0
        self._tokens_used = 0
        self._waited = 0.0
        self._pause_count = 0

    def share(self, workers: int) -> ModelBudget:
        """A budget for one of ``workers`` processes: each limit divided by ``workers``."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        limits = self.limits
        concurrent = limits.max_concurrent_calls
        if concurrent is not None and concurrent < workers:
            raise ValueError(
                f"cannot share max_concurrent_calls={concurrent} among {workers} workers:"
                " each needs at least one"
            )
        rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
        return ModelBudget(
            None if rpm is None else rpm / workers,
            None if tpm is None else tpm / workers,
            None if concurrent is None else concurrent // workers,
            jitter=limits.jitter,
            burst_seconds=limits.burst_seconds,
            clock=self._clock,
        )

    def call(self, model: str, tokens: int = 0) -> AbstractAsyncContextManager[BudgetLease]:
        """Wait for room for one call of ``model`` estimated at ``tokens``; hold it inside."""
        if tokens < 0:
            raise ValueError(f"tokens must be >= 0, got {tokens}")
        return self._call(model, tokens)

    def pause(self, model: str, seconds: float) -> None:
        """Hold every call of ``model`` for ``seconds`` (plus jitter): a 429's Retry-After."""
        if not seconds >= 0 or math.isinf(seconds):
            raise ValueError(f"a pause must be a finite number of seconds >= 0, got {seconds}")
        self._pause_count += 1
        until = self._clock() + seconds
        if until <= self._pauses.get(model, (-math.inf, 0.0))[0]:
            return
        self._pauses[model] = (until, seconds)
        for waiter in self._queue:
            if waiter.model == model:
                waiter.not_before = max(waiter.not_before, self._resume_time(until, seconds))
        self._dispatch()

    def paused_until(self, model: str) -> float | None:
        """Clock time the pause of ``model`` ends (before jitter), or None if none is in force."""
        until = self._pauses.get(model, (-math.inf, 0.0))[0]
        return until if until > self._clock() else None

    @property
    def waiting(self) -> int:
        """Calls waiting for room."""
        return len(self._queue)

    @property
    def in_use(self) -> int:
        """Calls admitted and not finished."""
        return self._in_use

    @property
    def calls(self) -> int:
        """Calls admitted so far."""
        return self._calls

    @property
    def tokens(self) -> int:
        """Tokens charged so far: estimates, corrected by `BudgetLease.used`."""
        return self._tokens_used

    @property
    def waited_seconds(self) -> float:
        """Total time admitted calls spent waiting."""
        return self._waited

    @property
    def pauses(self) -> int:
        """Pauses asked for (429s reported), including ones that extended nothing."""
        return self._pause_count

    @asynccontextmanager
    async def _call(self, model: str, tokens: int) -> AsyncIterator[BudgetLease]:
        lease = await self._acquire(model, tokens)
        try:
            yield lease
        finally:
            self._in_use -= 1
            self._dispatch()

    async def _acquire(self, model: str, tokens: int) -> BudgetLease:
        now = self._clock()
        waiter = _Waiter(model, tokens, asyncio.get_running_loop().create_future(), now)
        until, seconds = self._pauses.get(model, (-math.inf, 0.0))
        if until > now:
            waiter.not_before = self._resume_time(until, seconds)
        self._queue.append(waiter)
        self._dispatch()
        try:
            started = await waiter.granted
        except asyncio.CancelledError:
            self._withdraw(waiter)
            raise
        return BudgetLease(self, model, tokens, started, started - now)

    def _withdraw(self, waiter: _Waiter) -> None:
        """A waiter was cancelled: leave the queue, or give back what it was granted."""
        if waiter in self._queue:
            self._queue.remove(waiter)
        elif waiter.granted.done() and not waiter.granted.cancelled():
            now = self._clock()
            self._count(-1, -waiter.tokens, -(waiter.granted.result() - waiter.since))
            self._in_use -= 1
            if self._requests is not None:
                self._requests.charge(now, -1)
            if self._tokens is not None:
                self._tokens.charge(now, -waiter.tokens)
        self._dispatch()

    def _count(self, calls: int, tokens: int, waited: float) -> None:
        """Counted at admission (not when the caller resumes), so counts follow the buckets."""
        self._calls += calls
        self._tokens_used += tokens
        self._waited += waited

    def _correct(self, delta: int) -> None:
        self._tokens_used += delta
        if self._tokens is not None and delta != 0:
            self._tokens.charge(self._clock(), delta)
            if delta < 0:
                self._dispatch()

    def _resume_time(self, until: float, seconds: float) -> float:
        return until + self._rng.uniform(0.0, self.limits.jitter * seconds)

    def _dispatch(self) -> None:
        """Admit waiters in order while there is room; else set a timer for the next try."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._clock()
        wake = math.inf
        limit = self.limits.max_concurrent_calls
        index = 0
        while index < len(self._queue):
            waiter = self._queue[index]
            if waiter.granted.done() or waiter.not_before > now:
                if not waiter.granted.done():  # paused: calls of other models may pass
                    wake = min(wake, waiter.not_before)
                index += 1  # (a cancelled waiter is withdrawn by its own task)
                continue
            if limit is not None and self._in_use >= limit:
                break  # a lease's release dispatches again
            wait = self._wait(now, waiter.tokens)
            if wait > 0.0:
                wake = min(wake, now + wait)
                break
            del self._queue[index]
            self._admit(now, waiter)
        if wake < math.inf and self._queue:
            loop = self._queue[0].granted.get_loop()
            self._timer = loop.call_later(wake - now, self._dispatch)

    def _wait(self, now: float, tokens: int) -> float:
        requests = 0.0 if self._requests is None else self._requests.wait(now)
        needed = 0.0 if self._tokens is None else self._tokens.wait(now, tokens)
        return max(requests, needed)

    def _admit(self, now: float, waiter: _Waiter) -> None:
        if self._requests is not None:
            self._requests.take(now)
        if self._tokens is not None:
            self._tokens.take(now, waiter.tokens)
        self._count(1, waiter.tokens, now - waiter.since)
        self._in_use += 1
        waiter.granted.set_result(now)
