"""`Pacer`: an agent's rate limit on the event loop's clock (the one `TokenBucket`).

Workers wait for a token before each call instead of failing: the bucket delays, it
never drops. One worker at a time waits, so waiting workers are served in order.
"""

from __future__ import annotations

import asyncio

from reagents.policies import RateLimit, TokenBucket

__all__ = ["Pacer"]


class Pacer:
    """Hands out ``rate``'s tokens on the running loop's clock."""

    def __init__(self, rate: RateLimit) -> None:
        self._loop = asyncio.get_running_loop()
        self._bucket = TokenBucket(rate, self._loop.time())
        self._turn = asyncio.Lock()

    async def wait(self) -> None:
        """Return once a token was taken (at once while the bucket has some)."""
        async with self._turn:
            while delay := self._bucket.take(self._loop.time()):
                await asyncio.sleep(delay)
