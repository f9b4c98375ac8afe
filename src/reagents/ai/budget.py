"""`BudgetLike`: what an `LLMAgent` needs from a model budget (tokens, rate, pauses).

A structural type, so any object with ``call`` and ``pause`` fits — the policies'
``ModelBudget`` as well as a test double. ``call`` reserves an estimated number of
tokens before a model call (waiting while the model is paused or the budget is
spent) and the lease it yields is told what the call actually used; ``pause`` stops
calls to a model for a while (a provider's 429 with Retry-After).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["BudgetLike", "LeaseLike"]


class LeaseLike(Protocol):
    """The reservation of one model call: told the tokens the call really used."""

    def used(self, tokens: int) -> object:
        """Record ``tokens`` actually used (input plus output)."""
        ...


class BudgetLike(Protocol):
    """A shared budget of model calls: reserve before a call, pause on a 429."""

    def call(self, model: str, *, tokens: int) -> AbstractAsyncContextManager[LeaseLike]:
        """Reserve ``tokens`` (an estimate) for one call to ``model``; waits if needed."""
        ...

    def pause(self, model: str, seconds: float) -> object:
        """Hold calls to ``model`` for ``seconds`` (may return an awaitable)."""
        ...
